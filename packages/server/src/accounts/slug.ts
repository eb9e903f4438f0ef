import { randomBytes } from 'node:crypto';

/** Path segments and names a workspace slug must not take. */
export const RESERVED_SLUGS: ReadonlySet<string> = new Set([
  'about',
  'account',
  'accounts',
  'admin',
  'api',
  'app',
  'assets',
  'audit',
  'auth',
  'billing',
  'blog',
  'console',
  'dashboard',
  'dev',
  'docs',
  'emisar',
  'help',
  'login',
  'logout',
  'mail',
  'mailbox',
  'mcp',
  'me',
  'new',
  'oauth',
  'privacy',
  'root',
  'security',
  'settings',
  'sign-in',
  'sign-out',
  'sign-up',
  'signin',
  'signup',
  'static',
  'status',
  'support',
  'system',
  'terms',
  'webhooks',
  'www',
]);

const SLUG_PATTERN = /^[a-z][a-z0-9-]{2,63}$/;

export function slugProblem(slug: string): string | null {
  if (!SLUG_PATTERN.test(slug)) {
    return 'A workspace slug is 3–64 characters: a lowercase letter first, then lowercase letters, digits or hyphens.';
  }
  if (RESERVED_SLUGS.has(slug)) return 'That workspace slug is reserved.';
  return null;
}

/** A valid slug suggested from a workspace name; `attempt` > 0 adds a random suffix. */
export function slugFromName(name: string, attempt = 0): string {
  let base = name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .toLowerCase()
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^[^a-z]+/, '')
    .replace(/-+$/, '')
    .slice(0, 48)
    .replace(/-+$/, '');
  if (!base) base = 'workspace';
  else if (base.length < 3) base = `ws-${base}`;
  if (attempt > 0 || RESERVED_SLUGS.has(base)) base = `${base}-${randomBytes(3).toString('hex')}`;
  return base;
}
