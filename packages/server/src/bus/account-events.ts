import type { Kysely } from 'kysely';
import type { Database } from '../db/schema.js';
import type { NotifyBus } from './notify-bus.js';

/**
 * What changed in an account; subscribers read the row by id (payloads carry
 * ids only). `member` (a membership's role, reach, suspension, sessions or
 * removal) is for the server's own streams, never sent to clients.
 */
export type AccountEventKind = 'run' | 'run_output' | 'approval' | 'runner' | 'trust' | 'member';

export interface AccountEvent {
  accountId: string;
  kind: AccountEventKind;
  id: string;
}

export const ACCOUNT_EVENTS_CHANNEL = 'account_events';
const KINDS: ReadonlySet<string> = new Set<AccountEventKind>([
  'run',
  'run_output',
  'approval',
  'runner',
  'trust',
  'member',
]);

/** Inside a transaction the event is delivered on commit, never for a rollback. */
export async function publishAccountEvent(
  bus: NotifyBus,
  executor: Kysely<Database>,
  event: AccountEvent,
): Promise<void> {
  await bus.publish(
    executor,
    ACCOUNT_EVENTS_CHANNEL,
    `${event.accountId}:${event.kind}:${event.id}`,
  );
}

export function parseAccountEvent(payload: string): AccountEvent | null {
  const [accountId, kind, id, extra] = payload.split(':');
  if (!accountId || !kind || !id || extra !== undefined || !KINDS.has(kind)) return null;
  return { accountId, kind: kind as AccountEventKind, id };
}

/** Every node's listeners for one account's events. */
export function subscribeAccountEvents(
  bus: NotifyBus,
  handler: (event: AccountEvent) => void,
): Promise<() => Promise<void>> {
  return bus.subscribe(ACCOUNT_EVENTS_CHANNEL, (payload) => {
    const event = parseAccountEvent(payload);
    if (event) handler(event);
  });
}
