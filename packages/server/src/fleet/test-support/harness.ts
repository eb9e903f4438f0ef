import { PassThrough } from 'node:stream';
import type {
  ActionProgressFrame,
  ActionResultFrame,
  ActionStartedFrame,
  ErrorFrame,
} from '@emisar/protocol';
import type { FastifyInstance } from 'fastify';
import { createApp } from '../../app.js';
import { insertAccount } from '../../audit/test-support/fixtures.js';
import { ManualClock } from '../../clock.js';
import type { ServerConfig } from '../../config.js';
import { createEnrollmentKey } from '../../credentials/enrollment-keys.js';
import type { Storage } from '../../db/database.js';
import { testConfig } from '../../test-support/config.js';
import { openTestStorage } from '../../test-support/database.js';
import type { RunHooks, RunnerConnection } from '../run-hooks.js';

export type HookCall =
  | { hook: 'deliverPending'; runnerId: string; generation: number }
  | { hook: 'actionStarted'; generation: number; frame: ActionStartedFrame }
  | { hook: 'actionProgress'; generation: number; frame: ActionProgressFrame }
  | { hook: 'actionResult'; generation: number; frame: ActionResultFrame }
  | { hook: 'runnerError'; generation: number; frame: ErrorFrame }
  | { hook: 'connectionClosed'; runnerId: string; generation: number };

/**
 * Stands in for the runs domain behind the gateway in fleet tests: records
 * what the gateway hands over and keeps each live connection so a test can
 * send frames to the runner through it.
 */
export class RecordingRunHooks implements RunHooks {
  readonly calls: HookCall[] = [];
  readonly connections = new Map<string, RunnerConnection>();
  resultOutcome: 'ack' | 'finalize_failed' = 'ack';
  private waiters: (() => void)[] = [];

  private record(call: HookCall): void {
    this.calls.push(call);
    const waiters = this.waiters;
    this.waiters = [];
    for (const wake of waiters) wake();
  }

  async deliverPending(c: RunnerConnection) {
    this.connections.set(c.runnerId, c);
    this.record({ hook: 'deliverPending', runnerId: c.runnerId, generation: c.generation });
  }
  async actionStarted(c: RunnerConnection, frame: ActionStartedFrame) {
    this.record({ hook: 'actionStarted', generation: c.generation, frame });
  }
  async actionProgress(c: RunnerConnection, frame: ActionProgressFrame) {
    this.record({ hook: 'actionProgress', generation: c.generation, frame });
  }
  async actionResult(c: RunnerConnection, frame: ActionResultFrame) {
    this.record({ hook: 'actionResult', generation: c.generation, frame });
    return this.resultOutcome;
  }
  async runnerError(c: RunnerConnection, frame: ErrorFrame) {
    this.record({ hook: 'runnerError', generation: c.generation, frame });
  }
  async connectionClosed(c: RunnerConnection) {
    this.record({ hook: 'connectionClosed', runnerId: c.runnerId, generation: c.generation });
  }

  /** Resolves once check() holds (re-checked on every call; the test timeout bounds it). */
  async until<T>(check: () => T | undefined | false): Promise<T> {
    for (;;) {
      const value = check();
      if (value) return value;
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }
}

export interface FleetHarness {
  app: FastifyInstance;
  /** Log lines written so far (none unless `logLevel` is overridden: tests default to silent). */
  logs: () => Record<string, unknown>[];
  storage: Storage;
  clock: ManualClock;
  hooks: RecordingRunHooks;
  url: string;
  close(): Promise<void>;
}

/** The real app on a real port with a recording stand-in for the runs domain. */
export async function startFleetHarness(
  overrides: Partial<ServerConfig> = {},
  storage?: Storage,
): Promise<FleetHarness> {
  const ownStorage = storage ?? (await openTestStorage());
  const clock = new ManualClock(new Date());
  const hooks = new RecordingRunHooks();
  let logged = '';
  const logStream = new PassThrough().on('data', (chunk) => {
    logged += chunk;
  });
  const app = await createApp({
    config: testConfig(overrides),
    storage: ownStorage,
    clock,
    runHooks: hooks,
    logStream,
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return {
    app,
    logs: () =>
      logged
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>),
    storage: ownStorage,
    clock,
    hooks,
    url: `http://127.0.0.1:${port}`,
    async close() {
      await app.close();
      if (!storage) await ownStorage.close();
    },
  };
}

/** An account with an enrollment key (single-use unless told otherwise). */
export async function accountWithKey(
  h: Pick<FleetHarness, 'storage' | 'clock'>,
  options: { plan?: string; reusable?: boolean; pinnedGroup?: string | null } = {},
): Promise<{ accountId: string; key: string; keyId: string }> {
  const accountId = await insertAccount(h.storage.db, options.plan ?? 'free');
  const key = await newEnrollmentKey(h, accountId, options);
  return { accountId, ...key };
}

export async function newEnrollmentKey(
  h: Pick<FleetHarness, 'storage' | 'clock'>,
  accountId: string,
  options: { reusable?: boolean; pinnedGroup?: string | null } = {},
): Promise<{ key: string; keyId: string }> {
  const created = await createEnrollmentKey(
    h.storage.db,
    {
      accountId,
      name: 'test',
      reusable: options.reusable ?? false,
      maxUses: null,
      pinnedGroup: options.pinnedGroup ?? null,
      createdBy: null,
    },
    h.clock,
  );
  return { key: created.secret, keyId: created.id };
}

export function registration(hostname: string, extra: Record<string, unknown> = {}) {
  return { external_id: hostname, hostname, labels: {}, version: '0.1.0', ...extra };
}

/** POST /runner/register over real HTTP. */
export async function register(
  url: string,
  key: string | null,
  body: unknown,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/runner/register`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify(body),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

export async function refresh(
  url: string,
  token: string,
): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${url}/runner/token/refresh`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: '{}',
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
