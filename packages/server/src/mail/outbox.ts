import { type Kysely, sql } from 'kysely';
import type { Clock } from '../core/clock.js';
import { createSecretBox } from '../core/secret-box.js';
import type { Database } from '../db/schema.js';
import { type PeriodicJob, WakeUp } from '../jobs/periodic.js';
import { type MailMessage, renderMail } from './templates.js';
import type { MailTransport } from './transports.js';

export interface MailLog {
  info(object: object, message: string): void;
  warn(object: object, message: string): void;
}

export interface QueuedMail {
  accountId: string | null;
  to: string;
  message: MailMessage;
}

export interface HeldMail {
  id: string;
  to: string;
  subject: string;
  text: string;
  createdAt: string;
}

export interface MailOutbox {
  /** Writes the message in the caller's transaction; the sweep delivers it after commit. */
  enqueue(trx: Kysely<Database>, mail: QueuedMail): Promise<void>;
  /** Delivers what is due now; returns how many rows it handled. */
  deliverDue(): Promise<number>;
  /** Asks the delivery job for a pass soon (after a commit that queued mail). */
  kick(): void;
  /** Messages kept for the dev mailbox (no transport configured), newest first. */
  held(limit: number): Promise<HeldMail[]>;
  /** Delivers due mail every `intervalMs` on every node (claims keep a row to one sender). */
  deliveryJob(intervalMs: number): PeriodicJob<{ handled: number }>;
  /** Closes the transport (after the delivery job has stopped). */
  close(): void;
}

const MAX_ATTEMPTS = 10;
const BATCH = 20;
/** A claimed row is invisible to other sweepers for this long (a node dying mid-send). */
const CLAIM_MS = 5 * 60_000;

export function backoffMs(attempts: number): number {
  return Math.min(5_000 * 2 ** Math.max(0, attempts - 1), 3_600_000);
}

export interface MailOutboxDeps {
  db: Kysely<Database>;
  secretKey: Buffer;
  clock: Clock;
  transport: MailTransport | null;
  from: string;
  log: MailLog;
}

export function createMailOutbox(deps: MailOutboxDeps): MailOutbox {
  const sealer = mailSealer(deps.secretKey);
  const wakeUp = new WakeUp();
  const deliverDue = async (): Promise<number> => {
    const claimed = await claimDueMail(deps.db, deps.clock.now());
    for (const row of claimed) await deliver(deps, sealer, row);
    return claimed.length;
  };
  return {
    enqueue: (trx, mail) => enqueueMail(trx, sealer, deps.clock, mail),
    deliverDue,
    kick: () => wakeUp.fire(),
    held: (limit) => heldMail(deps.db, sealer, limit),
    deliveryJob: (intervalMs) => ({
      name: 'mail delivery',
      lock: null,
      intervalMs,
      firstDelayMs: intervalMs,
      wakeUp,
      run: async () => ({ handled: await deliverDue() }),
    }),
    close() {
      deps.transport?.close();
    },
  };
}

interface Sealed {
  text: string;
}

/** Message bodies are stored sealed, each bound to its row id. */
interface MailSealer {
  seal(id: string, body: Sealed): Uint8Array;
  open(id: string, sealed: Uint8Array): Sealed;
}

function mailSealer(secretKey: Buffer): MailSealer {
  const box = createSecretBox(secretKey, 'mail-outbox');
  return {
    seal: (id, body) => box.seal(JSON.stringify(body), id),
    open: (id, sealed) => JSON.parse(box.open(sealed, id).toString('utf8')) as Sealed,
  };
}

async function enqueueMail(
  trx: Kysely<Database>,
  sealer: MailSealer,
  clock: Clock,
  mail: QueuedMail,
): Promise<void> {
  const rendered = renderMail(mail.message);
  const row = await trx
    .insertInto('mail_outbox')
    .values({
      account_id: mail.accountId,
      to_address: mail.to,
      template: mail.message.template,
      subject: rendered.subject,
      next_attempt_at: clock.now().toISOString(),
      status: 'pending',
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  await trx
    .updateTable('mail_outbox')
    .set({ body_ciphertext: sealer.seal(row.id, { text: rendered.text }) })
    .where('id', '=', row.id)
    .execute();
}

async function heldMail(
  db: Kysely<Database>,
  sealer: MailSealer,
  limit: number,
): Promise<HeldMail[]> {
  const rows = await db
    .selectFrom('mail_outbox')
    .select(['id', 'to_address', 'subject', 'body_ciphertext', 'created_at'])
    .where('status', 'in', ['held', 'pending'])
    .where('body_ciphertext', 'is not', null)
    .orderBy('created_at', 'desc')
    .limit(limit)
    .execute();
  return rows.map((row) => ({
    id: row.id,
    to: row.to_address,
    subject: row.subject,
    text: sealer.open(row.id, row.body_ciphertext!).text,
    createdAt: row.created_at,
  }));
}

interface ClaimedMail {
  id: string;
  to_address: string;
  subject: string;
  body_ciphertext: Uint8Array | null;
  attempts: number;
}

/** Claims up to BATCH due rows for CLAIM_MS, skipping rows another node holds. */
async function claimDueMail(db: Kysely<Database>, now: Date): Promise<ClaimedMail[]> {
  const claimed = await sql<ClaimedMail>`
    UPDATE mail_outbox SET next_attempt_at = ${new Date(now.getTime() + CLAIM_MS).toISOString()}
    WHERE id IN (
      SELECT id FROM mail_outbox
      WHERE status = 'pending' AND next_attempt_at <= ${now.toISOString()}
      ORDER BY next_attempt_at LIMIT ${BATCH} FOR UPDATE SKIP LOCKED)
    RETURNING id, to_address, subject, body_ciphertext, attempts`.execute(db);
  return claimed.rows;
}

/** Sends one claimed row; without a transport it is held for the dev mailbox. */
async function deliver(deps: MailOutboxDeps, sealer: MailSealer, row: ClaimedMail): Promise<void> {
  const { db, transport, clock } = deps;
  if (!transport) {
    await db.updateTable('mail_outbox').set({ status: 'held' }).where('id', '=', row.id).execute();
    deps.log.info({ mail_id: row.id }, `mail to ${row.to_address} — open /dev/mailbox`);
    return;
  }
  try {
    const { text } = sealer.open(row.id, row.body_ciphertext ?? new Uint8Array());
    await transport.send({ from: deps.from, to: row.to_address, subject: row.subject, text });
    await db
      .updateTable('mail_outbox')
      .set({ status: 'sent', sent_at: clock.now().toISOString(), body_ciphertext: null })
      .where('id', '=', row.id)
      .execute();
  } catch (error) {
    await recordFailure(deps, transport, row, error);
  }
}

/** Backs off and retries a failed send, giving up (and dropping the body) after MAX_ATTEMPTS. */
async function recordFailure(
  deps: MailOutboxDeps,
  transport: MailTransport,
  row: ClaimedMail,
  error: unknown,
): Promise<void> {
  const attempts = row.attempts + 1;
  const reason = error instanceof Error ? error.message.split('\n')[0]!.slice(0, 200) : 'error';
  const failed = attempts >= MAX_ATTEMPTS;
  await deps.db
    .updateTable('mail_outbox')
    .set({
      attempts,
      last_error: reason,
      status: failed ? 'failed' : 'pending',
      body_ciphertext: failed ? null : row.body_ciphertext,
      next_attempt_at: new Date(deps.clock.now().getTime() + backoffMs(attempts)).toISOString(),
    })
    .where('id', '=', row.id)
    .execute();
  deps.log.warn(
    { mail_id: row.id, attempts, transport: transport.name, reason },
    failed ? 'mail delivery gave up' : 'mail delivery failed; will retry',
  );
}
