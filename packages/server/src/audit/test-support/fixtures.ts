import type { KeyObject } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type Clock, systemClock } from '../../core/clock.js';
import type { ApiKeyKind } from '../../core/principal.js';
import { createApiKey } from '../../credentials/api-keys.js';
import type { Database } from '../../db/schema.js';
import { insertMember } from '../../test-support/accounts.js';
import type { AuditExportService } from '../export.js';
import { createExportHeadSigner } from '../export-head.js';
import { type AuditCursor, type AuditFilter, START } from '../query.js';
import { type AuditEventInput, recordAuditEvents } from '../record.js';

export function sampleEvent(accountId: string, n: number): AuditEventInput {
  return {
    accountId,
    eventType: n % 3 === 0 ? 'runner.registered' : 'user.signed_in',
    actor: { kind: 'user', id: `user-${n}`, label: `person${n}@example.com` },
    target: { kind: 'runner', id: `runner-${n}`, label: `host-${n}` },
    payload: { n, note: `event ${n} — ünïcödé 🚀`, nested: { list: [1, 2.5, true, null] } },
    context: {
      ip: '192.0.2.7',
      userAgent: 'vitest',
      requestId: `req_${n}`,
      authMethod: 'magic_link',
      mfa: n % 2 === 0,
    },
  };
}

/** Writes `count` events in transactions of `perTransaction`. */
export async function writeEvents(
  db: Kysely<Database>,
  accountId: string,
  count: number,
  perTransaction = 500,
  first = 1,
): Promise<void> {
  for (let start = 0; start < count; start += perTransaction) {
    const inputs: AuditEventInput[] = [];
    for (let n = start; n < Math.min(count, start + perTransaction); n++) {
      inputs.push(sampleEvent(accountId, first + n));
    }
    await db.transaction().execute((trx) => recordAuditEvents(trx, inputs));
  }
}

/** An API key of the given kind; an mcp key gets a member of its own to act as. */
export async function insertApiKey(
  db: Kysely<Database>,
  accountId: string,
  kind: ApiKeyKind,
  clock: Clock = systemClock,
): Promise<string> {
  const membershipId =
    kind === 'mcp' ? (await insertMember(db, accountId, 'operator')).membershipId : null;
  const key = await db
    .transaction()
    .execute((trx) =>
      createApiKey(
        trx,
        { accountId, kind, membershipId, name: `${kind} key`, createdBy: null },
        clock,
      ),
    );
  return key.secret;
}

/** A promise and the function that settles it (to hold a transaction open in a test). */
export function signal(): { promise: Promise<void>; fire: () => void } {
  let fire!: () => void;
  const promise = new Promise<void>((resolve) => {
    fire = resolve;
  });
  return { promise, fire };
}

/**
 * The lines `GET /api/audit` sends for one request, its signed head statement
 * last: a page when `limit` is given, else the `limit=all` stream.
 */
export async function signedExport(
  service: AuditExportService,
  signer: { signingKey: KeyObject; clock: Clock },
  accountId: string,
  request: { after?: AuditCursor; filter?: AuditFilter; limit?: number } = {},
): Promise<string[]> {
  const after = request.after ?? START;
  const filter = request.filter ?? { since: null, eventTypes: null };
  const sign = createExportHeadSigner(signer);
  let text: string;
  if (request.limit !== undefined) {
    const page = await service.page(accountId, { after, filter, limit: request.limit });
    text = page.text + sign(await page.coverage());
  } else {
    const stream = await service.stream(accountId, after, filter);
    text = '';
    for await (const chunk of stream.chunks) text += chunk;
    text += sign(await stream.coverage());
  }
  return text.split('\n').filter(Boolean);
}
