import { randomUUID } from 'node:crypto';
import { get as httpGet, type IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from '../app.js';
import { trustedRunner } from '../approvals/test-support/fixtures.js';
import { createNotifyBus, type NotifyBus } from '../bus/notify-bus.js';
import type { Role } from '../core/roles.js';
import { createApiKey } from '../credentials/api-keys.js';
import { insertMember } from '../test-support/accounts.js';
import { signUp, startTestApp, type TestApp } from '../test-support/app.js';
import type { Browser } from '../test-support/browser.js';
import { onPostgres } from '../test-support/database.js';
import { fragmentSecretFrom } from '../test-support/smtp-sink.js';

/** An open `GET …/events` over real HTTP: what it received, and whether it ended. */
interface OpenStream {
  text(): string;
  ended: Promise<void>;
  close(): void;
}

describe(`the account event stream follows the caller’s access (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let owner: Browser;
  let bus: NotifyBus;
  let accountId: string;
  let web: { id: string };
  let db: { id: string };
  /** A second node on the same database: membership changes made there reach streams here. */
  let other: FastifyInstance;
  const slug = 'stream-a';
  const base = `/api/v1/accounts/${slug}`;

  beforeAll(async () => {
    h = await startTestApp();
    bus = createNotifyBus(h.storage);
    owner = await signUp(h, 'owner@stream.test', 'Stream A');
    accountId = (
      await h.storage.db
        .selectFrom('accounts')
        .select('id')
        .where('slug', '=', slug)
        .executeTakeFirstOrThrow()
    ).id;
    web = await trustedRunner(h.storage.db, { bus, clock: h.clock }, accountId, 'web');
    db = await trustedRunner(h.storage.db, { bus, clock: h.clock }, accountId, 'db');
    other = await createApp({ config: h.config, storage: h.storage, clock: h.clock });
  }, 60_000);
  afterAll(async () => {
    await other.close();
    await bus.close();
    await h.close();
  });

  async function open(auth: Record<string, string>): Promise<OpenStream> {
    const chunks: string[] = [];
    const response = await new Promise<IncomingMessage>((resolve, reject) => {
      httpGet(`${h.url}${base}/events`, { headers: auth }, resolve).on('error', reject);
    });
    expect(response.statusCode).toBe(200);
    response.setEncoding('utf8');
    response.on('data', (chunk: string) => chunks.push(chunk));
    const ended = new Promise<void>((resolve) => response.on('close', resolve));
    await until(() => chunks.join('').includes(': connected'));
    return { text: () => chunks.join(''), ended, close: () => response.destroy() };
  }

  /** A member with an mcp key, and a stream opened with it. */
  async function memberStream(role: Role = 'operator') {
    const member = await insertMember(h.storage.db, accountId, role);
    await h.storage.db
      .updateTable('memberships')
      .set({ runner_access: JSON.stringify({ mode: 'all' }) })
      .where('id', '=', member.membershipId)
      .execute();
    const key = await createApiKey(
      h.storage.db,
      {
        accountId,
        kind: 'mcp',
        membershipId: member.membershipId,
        name: `k-${randomUUID()}`,
        createdBy: null,
      },
      h.clock,
    );
    const stream = await open({ authorization: `Bearer ${key.secret}` });
    return { membershipId: member.membershipId, stream };
  }

  const createRun = async (runnerId: string) => {
    const created = await owner.request<{ id: string }>('POST', `${base}/runs`, {
      runner: runnerId,
      action_id: 'linux.uptime',
      args: {},
      reason: 'checking the load on this host',
    });
    expect(created.status).toBe(201);
    return created.body.id;
  };
  const received = (stream: OpenStream, runId: string) =>
    stream.text().includes(`data: {"id":"${runId}"}`);

  it('ends when the member is removed (on another node), sending nothing after', async () => {
    const { membershipId, stream } = await memberStream();
    const before = await createRun(web.id);
    await until(() => received(stream, before));

    const removed = await other.inject({
      method: 'DELETE',
      url: `${base}/members/${membershipId}`,
      headers: { origin: h.config.baseUrl, cookie: cookieOf(owner) },
    });
    expect(removed.statusCode).toBe(200);
    await stream.ended;
    const after = await createRun(web.id);
    expect(received(stream, after)).toBe(false);
  });

  it('ends when the member is suspended', async () => {
    const { membershipId, stream } = await memberStream();
    expect(
      (await owner.request('POST', `${base}/members/${membershipId}/suspend`, {})).status,
    ).toBe(200);
    await stream.ended;
  });

  it('ends when the member’s role no longer views the fleet', async () => {
    const { membershipId, stream } = await memberStream('viewer');
    expect(
      (await owner.request('PATCH', `${base}/members/${membershipId}`, { role: 'billing' })).status,
    ).toBe(200);
    await stream.ended;
  });

  it('applies narrowed runner reach to every later event', async () => {
    const { membershipId, stream } = await memberStream();
    const narrowed = await owner.request('PATCH', `${base}/members/${membershipId}`, {
      runner_access: { mode: 'restricted', groups: ['db'], runner_ids: [] },
    });
    expect(narrowed.status).toBe(200);
    const hidden = await createRun(web.id);
    const visible = await createRun(db.id);
    // Events are handled in order: once the later one is out, the earlier was judged.
    await until(() => received(stream, visible));
    expect(received(stream, hidden)).toBe(false);
    stream.close();
  });

  it('ends a person’s stream when an admin ends their sessions', async () => {
    const email = 'operator@stream.test';
    const invited = await owner.request<{ invitation: { id: string } }>(
      'POST',
      `${base}/invitations`,
      { email, role: 'operator' },
    );
    expect(invited.status).toBe(201);
    const token = fragmentSecretFrom((await h.smtp.next(email)).text ?? '', '/accept_invitation');
    const person = h.browser();
    expect((await person.request('POST', '/api/v1/invitations/accept', { token })).status).toBe(
      200,
    );
    const stream = await open({ cookie: cookieOf(person) });
    const ended = await owner.request(
      'POST',
      `${base}/members/${invited.body.invitation.id}/end_sessions`,
      {},
    );
    expect(ended.status).toBe(200);
    await stream.ended;
  });
});

async function until(check: () => boolean): Promise<void> {
  while (!check()) await new Promise((resolve) => setTimeout(resolve, 10));
}

function cookieOf(browser: Browser): string {
  return [...browser.jar.entries()].map(([name, c]) => `${name}=${c.value}`).join('; ');
}
