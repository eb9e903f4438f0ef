import { randomUUID } from 'node:crypto';
import { isIP } from 'node:net';
import { canonicalJson, type JsonObject } from '@emisar/protocol';
import { type Kysely, sql } from 'kysely';
import { accountQueries } from '../accounts/index.js';
import { entitlementsOf } from '../billing/index.js';
import type { AuditActor, AuditContext } from '../core/actor.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import { type AuditEventBody, chainHash } from './chain.js';
import type { AuditEventsTable } from './tables.js';
import { normalizeTimestamp } from './timestamps.js';

export interface AuditTarget {
  kind: string;
  id: string | null;
  label: string | null;
}

export interface AuditEventInput {
  accountId: string;
  /** `family.verb`, lowercase: `user.signed_in`, `api_key.created`, … */
  eventType: string;
  actor: AuditActor;
  target?: AuditTarget;
  payload?: JsonObject;
  context?: AuditContext;
  /** RFC 3339; defaults to the transaction's `now()`. */
  occurredAt?: string;
}

export interface RecordedAuditEvent {
  id: string;
  accountId: string;
  /** null for an event outside the chain (`audit.exported`). */
  seq: number | null;
  hash: string;
  occurredAt: string;
}

const EVENT_TYPE = /^[a-z][a-z0-9_]*(?:\.[a-z][a-z0-9_]*)+$/;
const MAX_EVENT_TYPE = 100;
const MAX_TEXT = 1000;
/** Events per INSERT statement. */
const INSERT_BATCH = 5000;
/** First key of the two-key advisory locks the audit log takes ('audt'). */
export const AUDIT_LOCK_NAMESPACE = 0x61756474;

/**
 * Records one audit event inside the caller's transaction, so it commits or
 * rolls back with the change it describes.
 *
 * The event's `seq` comes from the account's chain head, read under a
 * transaction-scoped per-account advisory lock that is held until the caller
 * commits: no other transaction can append to that account's chain in
 * between, so seq order is commit order and a rolled-back transaction leaves
 * no gap. The lock serialises the account's audit writers from this call to
 * commit, so record the event as the last step of the transaction. Must run at
 * READ COMMITTED (the default) so the head read after the lock is current.
 */
export async function recordAuditEvent(
  trx: Tx,
  input: AuditEventInput,
): Promise<RecordedAuditEvent> {
  const [recorded] = await recordAuditEvents(trx, [input]);
  return recorded!;
}

/**
 * Records several events in order. Use it for one cause that touches several
 * accounts (a sign-in written to each account of the user): it takes the
 * accounts' locks in a fixed order, so two such transactions cannot deadlock.
 */
export async function recordAuditEvents(
  trx: Tx,
  inputs: readonly AuditEventInput[],
): Promise<RecordedAuditEvent[]> {
  requireTransaction(trx);
  const byAccount = new Map<string, { index: number; input: AuditEventInput }[]>();
  inputs.forEach((input, index) => {
    checkInput(input);
    const group = byAccount.get(input.accountId) ?? [];
    group.push({ index, input });
    byAccount.set(input.accountId, group);
  });
  const recorded: RecordedAuditEvent[] = new Array(inputs.length);
  for (const accountId of [...byAccount.keys()].sort()) {
    const group = byAccount.get(accountId)!;
    const events = await appendToChain(
      trx,
      accountId,
      group.map((g) => g.input),
    );
    group.forEach((g, i) => {
      recorded[g.index] = events[i]!;
    });
  }
  return recorded;
}

/**
 * Records an event outside the chain (null seq, no link): `audit.exported`,
 * which must not make an unfiltered export change every time it is read. It
 * sits after the chain event that was the head when it was written.
 */
export async function recordOffChainAuditEvent(
  trx: Tx,
  input: AuditEventInput,
): Promise<RecordedAuditEvent> {
  requireTransaction(trx);
  checkInput(input);
  const state = await lockChain(trx, input.accountId);
  const last = await trx
    .selectFrom('audit_events')
    .select((eb) => eb.fn.max('cursor_sub').as('sub'))
    .where('account_id', '=', input.accountId)
    .where('cursor_seq', '=', state.seq)
    .executeTakeFirst();
  const body = eventBody(input, { seq: null, prevHash: null, now: state.now });
  const hash = chainHash(body);
  await insertEvents(
    trx,
    [storedEvent(body, hash, state.seq, (last?.sub ?? 0) + 1)],
    state.retentionDays,
  );
  return recordedOf(body, hash);
}

interface ChainState {
  seq: number;
  hash: string | null;
  retentionDays: number;
  now: string;
}

/**
 * Takes the account's chain lock, held until the transaction ends. Re-entrant:
 * taking it again in the same transaction is free.
 */
export async function lockAuditChain(trx: Kysely<Database>, accountId: string): Promise<void> {
  requireTransaction(trx);
  await sql`select pg_advisory_xact_lock(${AUDIT_LOCK_NAMESPACE}, hashtext(${accountId}))`.execute(
    trx,
  );
}

/** Takes the account's chain lock and reads the head under it. */
async function lockChain(trx: Tx, accountId: string): Promise<ChainState> {
  // A separate statement, so the head read below sees everything committed before the lock.
  await lockAuditChain(trx, accountId);
  const plan = await accountQueries.planOf(trx, accountId);
  if (plan === undefined) throw new Error('audit event for an account that does not exist');
  const { rows } = await sql<{ seq: number | null; hash: string | null; now: string }>`
    SELECT h.seq, h.hash, now() AS now
    FROM (SELECT 1) AS one LEFT JOIN audit_chain_heads h ON h.account_id = ${accountId}`.execute(
    trx,
  );
  const head = rows[0]!;
  return {
    seq: head.seq ?? 0,
    hash: head.hash,
    retentionDays: entitlementsOf(plan).retentionDays,
    now: head.now,
  };
}

async function appendToChain(
  trx: Tx,
  accountId: string,
  inputs: readonly AuditEventInput[],
): Promise<RecordedAuditEvent[]> {
  const state = await lockChain(trx, accountId);
  let seq = state.seq;
  let prevHash = state.hash;
  const recorded: RecordedAuditEvent[] = [];
  const rows = inputs.map((input) => {
    seq += 1;
    const body = eventBody(input, { seq, prevHash, now: state.now });
    const hash = chainHash(body);
    prevHash = hash;
    recorded.push(recordedOf(body, hash));
    return storedEvent(body, hash, seq, 0);
  });
  await insertEvents(trx, rows, state.retentionDays);
  const head = { account_id: accountId, seq, hash: prevHash! };
  await trx
    .insertInto('audit_chain_heads')
    .values(head)
    .onConflict((oc) => oc.column('account_id').doUpdateSet({ seq: head.seq, hash: head.hash }))
    .execute();
  return recorded;
}

function eventBody(
  input: AuditEventInput,
  place: { seq: number | null; prevHash: string | null; now: string },
): AuditEventBody {
  const context = input.context ?? {};
  return {
    seq: place.seq,
    id: randomUUID(),
    occurred_at: input.occurredAt ? normalizeTimestamp(input.occurredAt)! : place.now,
    account_id: input.accountId,
    event_type: input.eventType,
    actor_kind: input.actor.kind,
    actor_id: input.actor.id,
    actor_label: input.actor.label,
    target_kind: input.target?.kind ?? null,
    target_id: input.target?.id ?? null,
    target_label: input.target?.label ?? null,
    ip_address: context.ip || null,
    user_agent: truncate(context.userAgent ?? null),
    request_id: context.requestId ?? null,
    auth_method: context.authMethod ?? null,
    mfa: context.mfa ?? null,
    payload: input.payload ?? {},
    prev_hash: place.prevHash,
  };
}

/** Every stored column but `retain_until` (computed from `occurred_at`), with its SQL type. */
const STORED_COLUMNS = {
  id: 'uuid',
  account_id: 'uuid',
  seq: 'int8',
  cursor_seq: 'int8',
  cursor_sub: 'int4',
  occurred_at: 'timestamptz',
  event_type: 'text',
  actor_kind: 'text',
  actor_id: 'text',
  actor_label: 'text',
  target_kind: 'text',
  target_id: 'text',
  target_label: 'text',
  ip_address: 'text',
  user_agent: 'text',
  request_id: 'text',
  auth_method: 'text',
  mfa: 'bool',
  payload: 'json',
  prev_hash: 'text',
  hash: 'text',
} as const satisfies Record<Exclude<keyof AuditEventsTable, 'retain_until'>, string>;

type StoredColumn = keyof typeof STORED_COLUMNS;
type StoredEvent = Record<StoredColumn, string | number | boolean | null>;
const STORED_NAMES = Object.keys(STORED_COLUMNS) as StoredColumn[];

function storedEvent(
  body: AuditEventBody,
  hash: string,
  cursorSeq: number,
  cursorSub: number,
): StoredEvent {
  return {
    ...body,
    cursor_seq: cursorSeq,
    cursor_sub: cursorSub,
    payload: canonicalJson(body.payload),
    hash,
  };
}

/**
 * One INSERT … SELECT FROM unnest(arrays) per batch: a column of values per
 * parameter, so a batch of thousands of events costs one short statement.
 */
async function insertEvents(
  trx: Kysely<Database>,
  events: readonly StoredEvent[],
  retentionDays: number,
): Promise<void> {
  const columns = sql.join(STORED_NAMES.map((name) => sql.ref(name)));
  for (let start = 0; start < events.length; start += INSERT_BATCH) {
    const batch = events.slice(start, start + INSERT_BATCH);
    const arrays = STORED_NAMES.map(
      (name) => sql`${batch.map((event) => event[name])}::${sql.raw(STORED_COLUMNS[name])}[]`,
    );
    await sql`
      INSERT INTO audit_events (${columns}, retain_until)
      SELECT u.*, u.occurred_at + ${retentionDays} * interval '1 day'
      FROM unnest(${sql.join(arrays)}) AS u(${columns})
    `.execute(trx);
  }
}

function recordedOf(body: AuditEventBody, hash: string): RecordedAuditEvent {
  return {
    id: body.id,
    accountId: body.account_id,
    seq: body.seq,
    hash,
    occurredAt: body.occurred_at,
  };
}

/** Truncates a free-text header to a bounded length without splitting a surrogate pair. */
function truncate(text: string | null): string | null {
  if (text === null || text.length <= MAX_TEXT) return text;
  const cut = text.slice(0, MAX_TEXT);
  return /[\uD800-\uDBFF]$/.test(cut) ? cut.slice(0, -1) : cut;
}

/** Outside a transaction the lock would end with the statement and the event with no change. */
function requireTransaction(trx: Kysely<Database>): void {
  if (!trx.isTransaction) throw new TypeError('audit events are recorded inside a transaction');
}

/** Programming errors, not user input: the caller's transaction fails with them. */
function checkInput(input: AuditEventInput): void {
  if (input.eventType.length > MAX_EVENT_TYPE || !EVENT_TYPE.test(input.eventType)) {
    throw new TypeError(`audit event type "${input.eventType.slice(0, 100)}" is not family.verb`);
  }
  if (input.occurredAt !== undefined && normalizeTimestamp(input.occurredAt) === undefined) {
    throw new TypeError('audit occurredAt is not an RFC 3339 timestamp');
  }
  const ip = input.context?.ip;
  if (ip && isIP(ip) === 0) throw new TypeError('audit context ip is not an IP address');
  const texts = [
    input.actor.id,
    input.actor.label,
    input.target?.kind,
    input.target?.id,
    input.target?.label,
    input.context?.requestId,
    input.context?.authMethod,
  ];
  for (const text of texts) {
    if (text != null && (text.length > MAX_TEXT || text.includes('\0'))) {
      throw new TypeError('audit actor, target and context fields are at most 1000 characters');
    }
  }
  if (input.context?.userAgent?.includes('\0')) {
    throw new TypeError('audit user agent contains a NUL character');
  }
}
