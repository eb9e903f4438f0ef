import { randomUUID } from 'node:crypto';
import type { ActionResultFrame, JsonObject, ServerFrame } from '@emisar/protocol';
import { newRequestId, parseStrictJson } from '@emisar/protocol';
import type { Insertable, Kysely } from 'kysely';
import type { Database } from '../../db/schema.js';
import type { RunnerConnection } from '../../fleet/run-hooks.js';
import { argsAtRest, createArgsBox } from '../args.js';
import type { RunStatus, RunsTable } from '../tables.js';

const PACK_HASH = `sha256:${'ab'.repeat(32)}`;

/**
 * A run row written straight to the database (as the create path would leave
 * it), for exercising delivery and results without the catalog and policy.
 */
export async function insertRun(
  db: Kysely<Database>,
  secretKey: Buffer,
  input: {
    accountId: string;
    runnerId: string;
    status?: RunStatus;
    argsText?: string;
    queuedAt?: string;
    patch?: Partial<Insertable<RunsTable>>;
  },
): Promise<{ id: string; requestId: string }> {
  const requestId = newRequestId();
  const args = parseStrictJson(input.argsText ?? '{"lines":20}') as JsonObject;
  const atRest = argsAtRest(args, []);
  const now = input.queuedAt ?? new Date().toISOString();
  const row = await db
    .insertInto('runs')
    .values({
      account_id: input.accountId,
      request_id: requestId,
      operation_id: `op_${randomUUID()}`,
      request_fingerprint: 'f'.repeat(64),
      action_id: 'linux.uptime',
      runner_id: input.runnerId,
      runner_ref: 'host~00',
      pack_id: 'linux',
      pack_version: '1.0.0',
      pack_ref: `linux@1.0.0/${PACK_HASH}`,
      expected_pack_hash: PACK_HASH,
      risk: 'low',
      source: 'operator',
      reason: 'checking the load on this host',
      args_ciphertext: createArgsBox(secretKey).seal(atRest.text, requestId),
      args_redacted: atRest.redacted,
      args_sha256: atRest.sha256,
      args_bytes: atRest.bytes,
      sensitive_arg_names: '[]',
      opts: null,
      client_info: null,
      policy_snapshot: null,
      status: input.status ?? 'pending',
      queued_at: now,
      updated_at: now,
      ...input.patch,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { id: row.id, requestId };
}

/** A runner socket as the runs domain sees it, recording what it was sent. */
export class RecordingConnection implements RunnerConnection {
  readonly sent: ServerFrame[] = [];
  open = true;

  constructor(
    readonly accountId: string,
    readonly runnerId: string,
    readonly generation = 1,
  ) {}

  send(frame: ServerFrame): boolean {
    if (!this.open) return false;
    this.sent.push(frame);
    return true;
  }

  take(): ServerFrame[] {
    return this.sent.splice(0);
  }
}

/** A successful result as the runner reports it. */
export function resultFrame(
  requestId: string,
  over: Partial<ActionResultFrame> = {},
): ActionResultFrame {
  return {
    type: 'action_result',
    request_id: requestId,
    status: 'success',
    exit_code: 0,
    duration_ms: 12,
    stdout_sha256: 'a'.repeat(64),
    stdout_bytes: 10,
    stderr_sha256: 'b'.repeat(64),
    stderr_bytes: 0,
    stdout_truncated: false,
    stderr_truncated: false,
    progress_chunks: 0,
    dropped_progress_chunks: 0,
    redactions: [],
    executed_command: 'uptime',
    executed_command_truncated: false,
    ...over,
  };
}
