import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ForbiddenError } from '../core/errors.js';
import { accountAccessOf } from '../http/account-routes.js';
import { csvFromNdjson } from './csv.js';
import type { AuditExportService } from './export.js';
import { type AuditFilter, encodeCursor, parseAuditQuery, type RawAuditQuery } from './query.js';

/** What the billing role may read of the audit log ("billing audit only"). */
export const BILLING_EVENT_TYPES = ['subscription.changed'];

/**
 * The console's view of the audit log under /api/v1/accounts/:slug: a JSON
 * page (`/audit`) and the CSV download (`/audit.csv`), with the same query
 * parameters as the SIEM export. People with `audit.view` see everything; the
 * billing role sees billing events only.
 */
export function registerAuditConsoleRoutes(
  app: FastifyInstance,
  deps: { service: AuditExportService },
): void {
  const { service } = deps;

  const resolve = async (request: FastifyRequest) => {
    const access = await accountAccessOf(request);
    const query = parseAuditQuery(request.query as RawAuditQuery);
    return { access, query, filter: visibleFilter(access.permissions, query.filter) };
  };

  app.get('/api/v1/accounts/:slug/audit', async (request, reply) => {
    const { access, query, filter } = await resolve(request);
    const limit = query.limit === 'all' ? 1000 : query.limit;
    const page = await service.page(access.account.id, { ...query, filter, limit });
    const events = page.text.split('\n').filter(Boolean).join(',');
    const next = page.last ? JSON.stringify(encodeCursor(page.last)) : 'null';
    return reply
      .header('content-type', 'application/json; charset=utf-8')
      .header('cache-control', 'no-store')
      .send(`{"events":[${events}],"next_cursor":${next}}`);
  });

  app.get('/api/v1/accounts/:slug/audit.csv', async (request, reply) => {
    const { access, query, filter } = await resolve(request);
    reply
      .header('content-type', 'text/csv; charset=utf-8')
      .header('content-disposition', `attachment; filename="audit-${access.account.slug}.csv"`)
      .header('cache-control', 'no-store');
    // A download is everything matching unless the caller asks for a page.
    const asked = (request.query as RawAuditQuery).limit !== undefined;
    if (asked && query.limit !== 'all') {
      const page = await service.page(access.account.id, { ...query, filter, limit: query.limit });
      if (page.last) reply.header('x-next-cursor', encodeCursor(page.last));
      return reply.send(Readable.from(csvFromNdjson([page.text])));
    }
    const stream = await service.stream(access.account.id, query.after, filter);
    if (stream.next) reply.header('x-next-cursor', encodeCursor(stream.next));
    return reply.send(Readable.from(csvFromNdjson(stream.chunks)));
  });
}

function visibleFilter(permissions: ReadonlySet<string>, filter: AuditFilter): AuditFilter {
  if (permissions.has('audit.view')) return filter;
  if (!permissions.has('audit.view_billing')) {
    throw new ForbiddenError('Your role does not allow this.', 'forbidden');
  }
  const asked = filter.eventTypes ?? BILLING_EVENT_TYPES;
  return { ...filter, eventTypes: asked.filter((type) => BILLING_EVENT_TYPES.includes(type)) };
}
