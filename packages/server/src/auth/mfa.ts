import type { Kysely } from 'kysely';
import type { Clock } from '../core/clock.js';
import { ConflictError, InvalidParamsError } from '../core/errors.js';
import { createSecretBox, type SecretBox } from '../core/secret-box.js';
import { digestsEqual, sha256 } from '../core/secrets.js';
import type { Tx } from '../core/tx.js';
import type { Database } from '../db/schema.js';
import { newRecoveryCode, normalizeRecoveryCode } from './codes.js';
import { matchTotpStep, newTotpSecret, totpUri } from './totp.js';
import type { UserRow } from './users.js';

export const RECOVERY_CODE_COUNT = 10;

export type SecondFactorProof = { totp: string } | { recoveryCode: string };
export type SecondFactorMethod = 'totp' | 'recovery_code';

export interface MfaStatus {
  totp: boolean;
  passkeys: number;
  recovery_codes_left: number;
  enabled_at: string | null;
}

/** TOTP seeds are recoverable (to verify codes), so they are sealed, bound to their user. */
export function createTotpBox(secretKey: Buffer): SecretBox {
  return createSecretBox(secretKey, 'totp');
}

export async function mfaStatus(db: Kysely<Database>, user: UserRow): Promise<MfaStatus> {
  const [passkeys, codes] = await Promise.all([
    db
      .selectFrom('passkeys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', user.id)
      .executeTakeFirstOrThrow(),
    db
      .selectFrom('recovery_codes')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('user_id', '=', user.id)
      .where('used_at', 'is', null)
      .executeTakeFirstOrThrow(),
  ]);
  return {
    totp: user.totp_secret_ciphertext !== null,
    passkeys: Number(passkeys.n),
    recovery_codes_left: Number(codes.n),
    enabled_at: user.mfa_enabled_at,
  };
}

/** Step one of TOTP enrolment: a pending seed, shown once as a URI for the authenticator app. */
export async function beginTotpEnrolment(
  trx: Kysely<Database>,
  user: UserRow,
  box: SecretBox,
): Promise<{ secret: string; otpauth_uri: string }> {
  if (user.totp_secret_ciphertext) {
    throw new ConflictError('TOTP is already enabled; remove it first.', 'totp_enabled');
  }
  const secret = newTotpSecret();
  await trx
    .updateTable('users')
    .set({ totp_pending_ciphertext: box.seal(secret, user.id) })
    .where('id', '=', user.id)
    .execute();
  return { secret, otpauth_uri: totpUri(secret, user.email) };
}

/**
 * Step two: a valid code for the pending seed turns TOTP on and issues ten
 * recovery codes (returned once). Returns null for a wrong code.
 */
export async function confirmTotpEnrolment(
  trx: Tx,
  user: UserRow,
  code: string,
  box: SecretBox,
  clock: Clock,
): Promise<{ recoveryCodes: string[] } | null> {
  if (!user.totp_pending_ciphertext) {
    throw new ConflictError('Start TOTP enrolment first.', 'totp_not_started');
  }
  const secret = box.open(user.totp_pending_ciphertext, user.id).toString('utf8');
  const step = matchTotpStep(secret, code, clock.now());
  if (step === null) return null;
  const now = clock.now().toISOString();
  await trx
    .updateTable('users')
    .set({
      totp_secret_ciphertext: user.totp_pending_ciphertext,
      totp_pending_ciphertext: null,
      totp_last_step: step,
      mfa_enabled_at: user.mfa_enabled_at ?? now,
    })
    .where('id', '=', user.id)
    .execute();
  return { recoveryCodes: await replaceRecoveryCodes(trx, user.id) };
}

export async function replaceRecoveryCodes(trx: Tx, userId: string): Promise<string[]> {
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
  const codes = Array.from({ length: RECOVERY_CODE_COUNT }, newRecoveryCode);
  await trx
    .insertInto('recovery_codes')
    .values(codes.map((code) => ({ user_id: userId, code_digest: sha256(code) })))
    .execute();
  return codes;
}

/**
 * Checks a TOTP code (refusing replays: a step at or before the last used) or
 * a recovery code (single use), recording the use. Null when it does not verify.
 */
export async function verifySecondFactor(
  trx: Tx,
  userId: string,
  proof: SecondFactorProof,
  box: SecretBox,
  clock: Clock,
): Promise<SecondFactorMethod | null> {
  const user = await trx
    .selectFrom('users')
    .select(['id', 'totp_secret_ciphertext', 'totp_last_step'])
    .where('id', '=', userId)
    .forUpdate()
    .executeTakeFirstOrThrow();
  if ('totp' in proof) {
    if (!user.totp_secret_ciphertext) return null;
    const secret = box.open(user.totp_secret_ciphertext, user.id).toString('utf8');
    const step = matchTotpStep(secret, proof.totp, clock.now());
    if (step === null || (user.totp_last_step !== null && step <= user.totp_last_step)) return null;
    await trx
      .updateTable('users')
      .set({ totp_last_step: step })
      .where('id', '=', user.id)
      .execute();
    return 'totp';
  }
  const digest = sha256(normalizeRecoveryCode(proof.recoveryCode));
  const codes = await trx
    .selectFrom('recovery_codes')
    .select(['id', 'code_digest'])
    .where('user_id', '=', user.id)
    .where('used_at', 'is', null)
    .execute();
  const match = codes.find((c) => digestsEqual(c.code_digest, digest));
  if (!match) return null;
  const used = await trx
    .updateTable('recovery_codes')
    .set({ used_at: clock.now().toISOString() })
    .where('id', '=', match.id)
    .where('used_at', 'is', null)
    .executeTakeFirst();
  return Number(used.numUpdatedRows) === 1 ? 'recovery_code' : null;
}

/** Removes TOTP and recovery codes; MFA stays on while passkeys remain. */
export async function removeTotp(trx: Tx, userId: string): Promise<void> {
  const passkeys = await trx
    .selectFrom('passkeys')
    .select('id')
    .where('user_id', '=', userId)
    .limit(1)
    .execute();
  await trx
    .updateTable('users')
    .set({
      totp_secret_ciphertext: null,
      totp_pending_ciphertext: null,
      totp_last_step: null,
      ...(passkeys.length ? {} : { mfa_enabled_at: null }),
    })
    .where('id', '=', userId)
    .execute();
  await trx.deleteFrom('recovery_codes').where('user_id', '=', userId).execute();
}

/** Every second factor of a person (TOTP, recovery codes, passkeys), so they can enrol again. */
export async function removeSecondFactors(trx: Tx, userId: string): Promise<void> {
  await removeTotp(trx, userId);
  await trx.deleteFrom('passkeys').where('user_id', '=', userId).execute();
  await trx.updateTable('users').set({ mfa_enabled_at: null }).where('id', '=', userId).execute();
}

export function parseSecondFactorProof(body: {
  code?: unknown;
  recovery_code?: unknown;
}): SecondFactorProof {
  if (typeof body.code === 'string' && body.code.length <= 16) return { totp: body.code.trim() };
  if (typeof body.recovery_code === 'string' && body.recovery_code.length <= 32) {
    return { recoveryCode: body.recovery_code };
  }
  throw new InvalidParamsError('Send "code" (from your authenticator app) or "recovery_code".');
}
