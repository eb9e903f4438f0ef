/** What services need to know about the request that caused a change (audit context). */
export interface RequestContext {
  ip: string;
  userAgent: string | null;
  requestId: string;
  /** 'session:code', 'api_key', … or null for anonymous requests. */
  authMethod: string | null;
  mfa: boolean;
}

/** For work not caused by an HTTP request (CLI, sweeps). */
export function systemContext(source: string): RequestContext {
  return { ip: '', userAgent: null, requestId: source, authMethod: source, mfa: false };
}
