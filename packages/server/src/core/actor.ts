/** Who did something, as the audit log names them. */
export type ActorKind = 'user' | 'api_key' | 'runner' | 'system' | 'oauth_client';

export interface AuditActor {
  kind: ActorKind;
  id: string | null;
  label: string | null;
}

/** Where the change came from: the HTTP request and how its caller signed in. */
export interface AuditContext {
  ip?: string | null;
  userAgent?: string | null;
  requestId?: string | null;
  authMethod?: string | null;
  mfa?: boolean | null;
}

/** The server itself, acting on its own schedule or on a command line; the label says which part. */
export const systemActor = (label: string): AuditActor => ({ kind: 'system', id: null, label });

export const userActor = (user: { id: string; email: string }): AuditActor => ({
  kind: 'user',
  id: user.id,
  label: user.email,
});
