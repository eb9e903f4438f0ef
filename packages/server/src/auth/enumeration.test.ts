import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type Answer,
  addressesOf,
  PROBE_NAMES,
  type Probe,
  type ProbeName,
  register,
  startProbeHarness,
} from '../test-support/address-probes.js';
import type { TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';

/** Routes whose email must read the same whether the address was registered or not. */
const SAME_MAIL = new Set(['sign up', 'invite']);

describe(`a registered address and an unknown one get the same answer (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let probes: Record<ProbeName, Probe>;
  beforeAll(async () => {
    ({ h, probes } = await startProbeHarness());
  });
  afterAll(() => h.close());

  for (const name of PROBE_NAMES) {
    it(`${name}: byte for byte, but for values drawn per request`, async () => {
      const probe = probes[name];
      const { known, fresh } = addressesOf(probe);
      await register(h, known(0));
      await register(h, known(1));
      h.clock.advance(15 * 60_000 + 1); // past every per-client and per-address window
      const ask = (address: string): Promise<Answer> => probe.ask(address);
      const registered = [await ask(known(0)), await ask(known(1))];
      const unknown = [await ask(fresh(0)), await ask(fresh(1))];
      expect(registered[0]!.transcript).toMatch(/^[2-4]\d\d\n/);
      expectAlike(
        registered.map((a) => a.transcript),
        unknown.map((a) => a.transcript),
      );
      if (SAME_MAIL.has(name)) {
        const mails = await Promise.all(
          [known(0), known(1), fresh(0), fresh(1)].map(async (address) => {
            const mail = await h.smtp.next(address);
            return `${mail.subject}\n${mail.text}`;
          }),
        );
        expectAlike(mails.slice(0, 2), mails.slice(2));
      }
    });
  }
});

/**
 * Splits each text into tokens and compares them position by position. A
 * token that differs between the two answers on *both* sides is a value drawn
 * per request (a nonce, a row id, a request id, a signature, an address) and
 * is left out; every other token must be the same on both sides. A value that
 * is constant on one side only (say a fixed id for unknown addresses) is a
 * difference.
 */
function expectAlike(registered: string[], unknown: string[]): void {
  const split = (text: string) => text.split(/([^A-Za-z0-9_%+/-]+)/);
  const [k0, k1, u0, u1] = [...registered, ...unknown].map(split) as [
    string[],
    string[],
    string[],
    string[],
  ];
  const drawn = new Set<number>();
  if (k0.length === k1.length && k0.length === u0.length && u0.length === u1.length) {
    k0.forEach((_, i) => {
      if (k0[i] !== k1[i] && u0[i] !== u1[i]) drawn.add(i);
    });
  }
  const masked = (tokens: string[]) =>
    tokens.map((token, i) => (drawn.has(i) ? '(drawn per request)' : token)).join('');
  expect(masked(u0)).toBe(masked(k0));
  expect(masked(u1)).toBe(masked(k1));
}
