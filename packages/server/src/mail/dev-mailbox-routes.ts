import type { FastifyInstance } from 'fastify';
import { NotFoundError } from '../core/errors.js';
import { isLoopbackClient } from '../http/loopback.js';
import type { MailOutbox } from './outbox.js';

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);

const linkify = (escaped: string) =>
  escaped.replace(/https?:\/\/[^\s<]+/g, (url) => `<a href="${url}">${url}</a>`);

/** The local outbox as a page, so a fresh install without email can sign in. */
export function registerDevMailboxRoutes(
  app: FastifyInstance,
  deps: { outbox: Pick<MailOutbox, 'held'>; enabled: boolean; trustsProxy: boolean },
): void {
  app.get('/dev/mailbox', async (request, reply) => {
    if (!deps.enabled || !isLoopbackClient(request, deps.trustsProxy)) throw new NotFoundError();
    const messages = await deps.outbox.held(50);
    const items = messages
      .map(
        (m) =>
          `<article><h2>${escapeHtml(m.subject)}</h2><p>To: ${escapeHtml(m.to)} · ${escapeHtml(m.createdAt)}</p>` +
          `<pre>${linkify(escapeHtml(m.text))}</pre></article>`,
      )
      .join('\n<hr>\n');
    reply.header('cache-control', 'no-store').type('text/html; charset=utf-8');
    return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>emisar dev mailbox</title></head><body><h1>Dev mailbox</h1><p>Messages stay here because no email transport is configured.</p>${items || '<p>No messages yet.</p>'}</body></html>`;
  });
}
