import type {
  ActionProgressFrame,
  ActionResultFrame,
  ActionStartedFrame,
  ErrorFrame,
} from '@emisar/protocol';
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
