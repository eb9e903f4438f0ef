/**
 * Secret-like key names (packs.md): each keyword is a whole component of the
 * key, where components are split on `.`, `_`, `-` and camelCase humps.
 */
const KEYWORD =
  'pass(?:word|wd|phrase)|pwd|secrets?|token|api_?key|access_?key|secret_?key|client_?secret|private_?key' +
  '|(?:access|refresh|id|auth|session|bearer)_?token|account_?key|aws_secret(?:_access)?_key|aws_session_token' +
  '|dsn|connection_?string|conn_?str|(?:database|db|redis|amqp|smtp)_?url|credentials?|signing_?key' +
  '|encryption_?key|secret_?key_?base|cookie_?key|session_?key|salt|pepper';
// Components are joined back with `_` before matching, so `db.password` and `DB_PASSWORD` read alike.
const SECRET_KEY = new RegExp(`(?:^|_)(?:${KEYWORD})(?:_|$)`);
const CACHE_LIMIT = 4096;
const cache = new Map<string, boolean>();

function normalise(key: string): string {
  return key
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .toLowerCase()
    .replace(/[.-]/g, '_');
}

/** Whether a key name is secret-like. Cached: logs repeat the same few keys endlessly. */
export function isSecretKey(key: string): boolean {
  let known = cache.get(key);
  if (known === undefined) {
    known = SECRET_KEY.test(normalise(key));
    if (cache.size >= CACHE_LIMIT) cache.clear();
    cache.set(key, known);
  }
  return known;
}

/**
 * A fast first pass: substrings that any secret-like key must contain. Only
 * lines with one of these are scanned for assignments.
 */
export const SECRET_KEY_HINT = /pass|pwd|secret|token|key|dsn|conn|url|credential|salt|pepper/gi;
