import type { ActionDefinition } from './types.js';

export interface RunOpts {
  /** Nanoseconds, as on the wire. */
  timeout?: number | bigint;
  max_stdout_bytes?: number;
  max_stderr_bytes?: number;
}

export interface ClampedOpts {
  timeoutMs: number;
  maxStdoutBytes: number;
  maxStderrBytes: number;
}

function clamp(value: bigint, min: bigint, max: bigint): bigint {
  return value < min ? min : value > max ? max : value;
}

function requested(value: number | bigint | undefined): bigint | undefined {
  if (typeof value === 'bigint') return value > 0n ? value : undefined;
  if (typeof value === 'number' && Number.isInteger(value) && value > 0) return BigInt(value);
  return undefined;
}

/**
 * The limits of one run: each requested value clamped into the action's
 * declared [min, max]; anything absent or not a positive integer takes the
 * action's default. A bound the action leaves unset equals its default, so
 * that value cannot be overridden.
 */
export function clampOpts(action: ActionDefinition, opts: RunOpts = {}): ClampedOpts {
  const ex = action.execution;
  const out = action.output;
  const timeoutNs = clamp(
    requested(opts.timeout) ?? ex.timeoutNs,
    ex.timeoutMinNs,
    ex.timeoutMaxNs,
  );
  const bytes = (value: number | undefined, fallback: number, min: number, max: number) =>
    Number(clamp(requested(value) ?? BigInt(fallback), BigInt(min), BigInt(max)));
  return {
    // Round up so a sub-millisecond remainder never shortens the declared timeout.
    timeoutMs: Number((timeoutNs + 999_999n) / 1_000_000n),
    maxStdoutBytes: bytes(
      opts.max_stdout_bytes,
      out.maxStdoutBytes,
      out.maxStdoutBytesMin,
      out.maxStdoutBytesMax,
    ),
    maxStderrBytes: bytes(
      opts.max_stderr_bytes,
      out.maxStderrBytes,
      out.maxStderrBytesMin,
      out.maxStderrBytesMax,
    ),
  };
}
