import type { ColumnType, Generated } from 'kysely';
import type { AuditContext } from '../core/actor.js';
import type { Timestamp } from '../core/columns.js';
import type { AuthMethod } from '../core/principal.js';

type Bytes = Uint8Array;
type NullableTimestamp = Timestamp | null;

export interface UsersTable {
  id: Generated<string>;
  email: string;
  full_name: string | null;
  confirmed_at: NullableTimestamp;
  last_sign_in_at: NullableTimestamp;
  password_hash: string | null;
  totp_secret_ciphertext: Bytes | null;
  totp_pending_ciphertext: Bytes | null;
  totp_last_step: number | null;
  mfa_enabled_at: NullableTimestamp;
  created_at: Generated<string>;
}

export interface RecoveryCodesTable {
  id: Generated<string>;
  user_id: string;
  code_digest: Bytes;
  used_at: NullableTimestamp;
  created_at: Generated<string>;
}

export interface PasskeysTable {
  id: Generated<string>;
  user_id: string;
  credential_id: string;
  public_key: Bytes;
  counter: number;
  transports: ColumnType<string[], string, string>;
  name: string;
  created_at: Generated<string>;
  last_used_at: NullableTimestamp;
}

export interface WebauthnChallengesTable {
  id: Generated<string>;
  user_id: string | null;
  purpose: 'passkey_register' | 'passkey_sign_in' | 'passkey_mfa';
  challenge: string;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Generated<string>;
}

export interface SessionsTable {
  id: Generated<string>;
  user_id: string;
  token_digest: Bytes;
  auth_method: AuthMethod;
  ip_address: string | null;
  user_agent: string | null;
  created_at: Generated<string>;
  last_seen_at: Timestamp;
  authenticated_at: Timestamp;
  mfa_verified_at: NullableTimestamp;
  expires_at: Timestamp;
  revoked_at: NullableTimestamp;
}

/** What a sign-up asked for; its code row keeps it until the mailbox is proved. */
export interface PendingSignUp {
  email: string;
  full_name: string | null;
  workspace_name: string;
}

/** One outstanding code per address, registered or not (an unknown address's row never signs in). */
export interface SignInCodesTable {
  id: Generated<string>;
  /** The registered person the address belonged to when the code was asked for. */
  user_id: string | null;
  address_digest: Bytes;
  sign_up: ColumnType<PendingSignUp | null, string | null, string | null>;
  digest: Bytes;
  failed_attempts: Generated<number>;
  expires_at: Timestamp;
  consumed_at: NullableTimestamp;
  created_at: Generated<string>;
}

export type UserTokenPurpose = 'confirm_email' | 'password_reset' | 'bootstrap';

export interface UserTokensTable {
  id: Generated<string>;
  /** null: minted for an unknown address so both cost the same; never consumable. */
  user_id: string | null;
  purpose: UserTokenPurpose;
  lookup: string;
  digest: Bytes;
  expires_at: Timestamp;
  used_at: NullableTimestamp;
  created_at: Generated<string>;
}

export interface SignInFailuresTable {
  id: Generated<string>;
  /** null when the address has no account. */
  user_id: string | null;
  method: string;
  reason: string;
  context: ColumnType<AuditContext, string, string>;
  occurred_at: Timestamp;
}

export interface AuthTables {
  users: UsersTable;
  recovery_codes: RecoveryCodesTable;
  passkeys: PasskeysTable;
  webauthn_challenges: WebauthnChallengesTable;
  sessions: SessionsTable;
  sign_in_codes: SignInCodesTable;
  user_tokens: UserTokensTable;
  sign_in_failures: SignInFailuresTable;
}
