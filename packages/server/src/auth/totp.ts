import { authenticator } from 'otplib';

const STEP_MS = 30_000;

export function newTotpSecret(): string {
  return authenticator.generateSecret(20);
}

export function totpUri(secret: string, email: string): string {
  return authenticator.keyuri(email, 'emisar', secret);
}

/** The code for the step containing `at` (tests and enrolment screens). */
export function totpCodeAt(secret: string, at: Date): string {
  return authenticator.clone({ epoch: at.getTime() }).generate(secret);
}

/**
 * The 30-second step a code belongs to (current step ±1), or null. Callers
 * refuse a step at or before the last one used: that is a replay.
 */
export function matchTotpStep(secret: string, code: string, now: Date): number | null {
  if (!/^\d{6}$/.test(code)) return null;
  const delta = authenticator.clone({ epoch: now.getTime(), window: 1 }).checkDelta(code, secret);
  if (delta === null) return null;
  return Math.floor(now.getTime() / STEP_MS) + delta;
}
