import { isIPv6 } from 'node:net';
import type { FastifyRequest } from 'fastify';
import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import type { Database } from '../db/schema.js';
import { type DurableLimit, hitDurableLimit } from '../limits/durable-limit.js';

/** Every sign-in route together (password, codes, sign-up, reset, passkey, MFA, links), per client. */
export const SIGN_IN_PER_CLIENT: DurableLimit = {
  name: 'sign_in_client',
  max: 30,
  windowMs: 60_000,
};
/** Password tries, code requests, sign-ups and reset requests naming one address, together. */
export const SIGN_IN_PER_ADDRESS: DurableLimit = {
  name: 'sign_in_address',
  max: 10,
  windowMs: 15 * 60_000,
};
/** Mail an anonymous request sends to one address: sign-in codes, sign-ups and resets together. */
export const MAIL_PER_ADDRESS: DurableLimit = {
  name: 'address_mail',
  max: 5,
  windowMs: 15 * 60_000,
};
/** MFA attempts per user: durable and failing closed. */
export const MFA_LIMIT: DurableLimit = { name: 'mfa', max: 5, windowMs: 5 * 60_000 };

/**
 * Counts a request that names an address, before anything looks the address
 * up: known and unknown addresses spend the same budgets.
 */
export async function hitAddressLimits(
  db: Kysely<Database>,
  address: string,
  clock: Clock,
  options: { sendsMail: boolean },
): Promise<void> {
  await hitDurableLimit(db, SIGN_IN_PER_ADDRESS, address, clock);
  if (options.sendsMail) await hitDurableLimit(db, MAIL_PER_ADDRESS, address, clock);
}

/**
 * Whom a per-client limit counts: the IPv4 address, or the /64 network of an
 * IPv6 one (one host is routinely handed a whole /64).
 */
export function clientKey(ip: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  if (mapped) return mapped[1]!;
  if (!isIPv6(ip)) return ip;
  const [head = '', tail] = ip.toLowerCase().split('%')[0]!.split('::');
  const groups = (part: string | undefined) => (part ? part.split(':').flatMap(hexGroups) : []);
  const before = groups(head);
  const after = groups(tail);
  const all =
    tail === undefined
      ? before
      : [...before, ...Array<string>(8 - before.length - after.length).fill('0'), ...after];
  return `${all.slice(0, 4).join(':')}::/64`;
}

/** A group of an IPv6 address without leading zeros; an embedded IPv4 tail is two groups. */
function hexGroups(group: string): string[] {
  if (!group.includes('.')) return [group.replace(/^0+(?=.)/, '')];
  const [a = 0, b = 0, c = 0, d = 0] = group.split('.').map(Number);
  return [((a << 8) | b).toString(16), ((c << 8) | d).toString(16)];
}

/**
 * Route options that spend the shared sign-in budget of the caller's client
 * address before anything else runs (parsing, lookups, hashing).
 */
export function signInBudget(deps: { db: Kysely<Database>; clock: Clock }) {
  return {
    onRequest: async (request: FastifyRequest) =>
      hitDurableLimit(deps.db, SIGN_IN_PER_CLIENT, clientKey(request.ip), deps.clock),
  };
}

/** The per-client sign-in budget as a route hook. */
export type SignInBudget = ReturnType<typeof signInBudget>;
