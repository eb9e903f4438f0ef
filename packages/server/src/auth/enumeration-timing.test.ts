import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  addressesOf,
  PROBE_NAMES,
  type Probe,
  type ProbeName,
  register,
  startProbeHarness,
} from '../test-support/address-probes.js';
import type { TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';

const ROUNDS = 45;
const WARM_UP = 3;
/** Two-sided normal quantile for a false alarm of 1 in 1000 per route. */
const Z_LIMIT = 3.29;
/** Gaps smaller than this share of a typical request are below any network's jitter. */
const NEGLIGIBLE_GAP = 0.05;

describe(`a registered address and an unknown one take the same time (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  let probes: Record<ProbeName, Probe>;
  beforeAll(async () => {
    ({ h, probes } = await startProbeHarness());
  });
  afterAll(() => h.close());

  for (const name of PROBE_NAMES) {
    it(name, { timeout: 900_000 }, async () => {
      const probe = probes[name];
      const { known, fresh } = addressesOf(probe);
      for (let n = 0; n < 4; n++) await register(h, known(n));
      const times = { known: [] as number[], control: [] as number[], unknown: [] as number[] };
      for (let round = 0; round < WARM_UP + ROUNDS; round++) {
        h.clock.advance(15 * 60_000 + 1); // past every per-client and per-address window
        const subjects = [
          ['known', known(round % 4)],
          ['control', known((round + 1) % 4)],
          ['unknown', fresh(round)],
        ] as const;
        for (let i = 0; i < 3; i++) {
          const [kind, address] = subjects[(round + i) % 3]!;
          const { ms } = await probe.ask(address);
          if (round >= WARM_UP) times[kind].push(ms);
        }
      }
      const verdict = compareTimings(times);
      expect(verdict.distinguishable, JSON.stringify(verdict)).toBe(false);
    });
  }
});

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length / 2;
  return sorted.length % 2
    ? sorted[Math.floor(middle)]!
    : (sorted[middle - 1]! + sorted[middle]!) / 2;
};

/**
 * Each round timed two registered addresses and an unknown one, in rotating
 * order. If the server does the same work for both kinds, the unknown address
 * is as likely to be the fastest, middle or slowest of its round whatever the
 * load on the machine: its rank is uniform on 1..3 (mean 2, variance 2/3) and
 * independent between rounds. The two are told apart when the mean rank is
 * further from 2 than chance allows (1 in 1000) and the medians differ by
 * more than a negligible share.
 */
function compareTimings(times: { known: number[]; control: number[]; unknown: number[] }) {
  const rounds = times.unknown.length;
  let rankSum = 0;
  times.unknown.forEach((u, i) => {
    rankSum += 1 + [times.known[i]!, times.control[i]!].filter((k) => k < u).length;
  });
  const meanRank = rankSum / rounds;
  const z = (meanRank - 2) / Math.sqrt(2 / 3 / rounds);
  const registered = median([...times.known, ...times.control]);
  const gap = (registered - median(times.unknown)) / registered;
  const round = (x: number) => Math.round(x * 1000) / 1000;
  return {
    distinguishable: Math.abs(z) > Z_LIMIT && Math.abs(gap) > NEGLIGIBLE_GAP,
    meanRankOfUnknown: round(meanRank),
    z: round(z),
    relativeGap: round(gap),
    medianMs: { registered: round(registered), unknown: round(median(times.unknown)) },
  };
}
