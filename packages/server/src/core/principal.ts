/** How a session proved its person (the `auth_method` of a session). */
export type AuthMethod =
  | 'code'
  | 'password'
  | 'passkey'
  | 'bootstrap'
  | 'invitation'
  | 'password_reset';

export type ApiKeyKind = 'mcp' | 'audit_export';

/** How long a session (and its cookie) lives. */
export const SESSION_LIFETIME_MS = 60 * 86_400_000;

/** A signed-in person, from the session cookie. */
export interface SessionPrincipal {
  kind: 'session';
  userId: string;
  email: string;
  sessionId: string;
  authMethod: AuthMethod;
  /** When the session last proved a primary factor (re-auth windows). */
  authenticatedAt: string;
  /** True when the user has no MFA, or this session proved a factor after mfa_enabled_at. */
  mfaSatisfied: boolean;
  /** The user has MFA enabled and this session proved it. */
  mfaVerified: boolean;
}

/** Who a valid API key acts as. An mcp key acts as its member, re-read on every call. */
export interface ApiKeyPrincipal {
  keyId: string;
  kind: ApiKeyKind;
  accountId: string;
  lineageId: string;
  membershipId: string | null;
}

/** Automation with an API key (`Authorization: Bearer emk-…`). */
export interface KeyPrincipal {
  kind: 'api_key';
  key: ApiKeyPrincipal;
}

/** The server's operator at its command line (`emisar-server`), never a network caller. */
export interface OperatorPrincipal {
  kind: 'operator';
}

export type Principal = SessionPrincipal | KeyPrincipal;
