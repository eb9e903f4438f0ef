import { CREDENTIAL_PREFIXES } from '@emisar/protocol';
import { isSecretKey, SECRET_KEY_HINT } from './secret-keys.js';

/** The result of one built-in pass over text that never spans a line break. */
export interface PassResult {
  text: string;
  count: number;
  /** Hits a combined pass made on behalf of another rule. */
  also?: { name: string; count: number };
}

/**
 * A built-in rule: ours, linear-time JavaScript, each match bounded by
 * maxLength and confined to one line.
 */
export interface BuiltinRedactionRule {
  readonly name: string;
  readonly type: 'builtin';
  readonly maxLength: number;
  /** When the named rule is in the same set, it already did this rule's work. */
  readonly coveredBy?: string;
  apply(text: string): PassResult;
}

const TOKEN_BOUND = 4096;
const JWT_BOUND = 16 * 1024;

/** A rule from one global regex; `replace` may return undefined to keep a match (not a secret after all). */
function regexRule(
  name: string,
  regex: RegExp,
  replace: string | ((match: string, groups: string[]) => string | undefined),
  maxLength = TOKEN_BOUND,
): BuiltinRedactionRule {
  if (!regex.global) throw new Error(`${name}: the regex must be global`);
  return {
    name,
    type: 'builtin',
    maxLength,
    apply(text) {
      regex.lastIndex = 0;
      if (!regex.test(text)) return { text, count: 0 };
      let count = 0;
      regex.lastIndex = 0;
      const out = text.replace(regex, (match: string, ...rest: unknown[]) => {
        const groups = rest.slice(0, -2) as string[];
        const replacement =
          typeof replace === 'string'
            ? replace.replace(/\$(\d)/g, (_, i: string) => groups[Number(i) - 1] ?? '')
            : replace(match, groups);
        if (replacement === undefined) return match;
        count++;
        return replacement;
      });
      return { text: out, count };
    },
  };
}

// Base64 that is more than an English word: a digit or symbol, or capitals past the first letter.
function looksEncoded(value: string): boolean {
  return /[0-9+/=]/.test(value) || /[A-Z]/.test(value.slice(1));
}

const prefixes = Object.values(CREDENTIAL_PREFIXES)
  .sort((a, b) => b.length - a.length)
  .map((p) => p.replace(/-/g, '\\-'))
  .join('|');

const ALREADY_REDACTED = /^\[REDACTED/;
const SEPARATOR = /[ \t]{0,8}[:=][ \t]{0,8}/y;
const BARE_VALUE = /[^\s"',;&}\]]{1,4096}/y;

type Quote = '"' | "'" | '';

/**
 * Finds `key = value`, `key: value` and `"key": value` where key is secret-like.
 * Scans only around substrings a secret key must contain, so ordinary log lines
 * cost one pass of a literal search.
 */
function assignmentRule(
  name: 'json-secret-field' | 'secret-assignment',
  both: boolean,
): BuiltinRedactionRule {
  const json = name === 'json-secret-field';
  const isKeyChar = (c: number) =>
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 95 ||
    c === 46 ||
    c === 45;
  const hint = new RegExp(SECRET_KEY_HINT.source, 'gi');
  return {
    name,
    type: 'builtin' as const,
    maxLength: 128 + 16 + TOKEN_BOUND + 2,
    apply(text) {
      hint.lastIndex = 0;
      if (!hint.test(text)) return { text, count: 0 };
      let out = '';
      let copied = 0;
      let count = 0;
      let other = 0;
      hint.lastIndex = 0;
      for (let m = hint.exec(text); m !== null; m = hint.exec(text)) {
        let start = m.index;
        while (start > 0 && isKeyChar(text.charCodeAt(start - 1))) start--;
        let end = m.index + m[0].length;
        while (end < text.length && isKeyChar(text.charCodeAt(end))) end++;
        hint.lastIndex = end;
        if (start < copied || end - start > 128 || !isSecretKey(text.slice(start, end))) continue;
        const keyQuote: Quote = text[start - 1] === '"' ? '"' : text[start - 1] === "'" ? "'" : '';
        let pos = end;
        if (keyQuote !== '') {
          if (text[pos] !== keyQuote) continue;
          pos++;
        }
        SEPARATOR.lastIndex = pos;
        const sep = SEPARATOR.exec(text);
        if (sep === null) continue;
        pos += sep[0].length;
        const value = readValue(text, pos);
        if (value === undefined || value.inner === '' || ALREADY_REDACTED.test(value.inner))
          continue;
        const isJson = keyQuote === '"' && value.quote === '"';
        if (!both && isJson !== json) continue;
        const replacement =
          value.quote !== ''
            ? `${value.quote}[REDACTED]${value.quote}`
            : keyQuote === '"'
              ? '"[REDACTED]"'
              : '[REDACTED]';
        out += text.slice(copied, pos) + replacement;
        copied = value.end;
        hint.lastIndex = value.end;
        if (isJson === json) count++;
        else other++;
      }
      if (count + other === 0) return { text, count };
      const result: PassResult = { text: out + text.slice(copied), count };
      if (both) result.also = { name: 'secret-assignment', count: other };
      return result;
    },
  };
}

function readValue(
  text: string,
  pos: number,
): { inner: string; quote: Quote; end: number } | undefined {
  const open = text[pos];
  if (open === '"' || open === "'") {
    let i = pos + 1;
    while (i < text.length && i - pos <= TOKEN_BOUND) {
      const c = text[i];
      if (c === '\n' || c === '\r') return undefined;
      if (c === '\\') i += 2;
      else if (c === open) return { inner: text.slice(pos + 1, i), quote: open, end: i + 1 };
      else i++;
    }
    return undefined;
  }
  BARE_VALUE.lastIndex = pos;
  const bare = BARE_VALUE.exec(text);
  return bare === null ? undefined : { inner: bare[0], quote: '', end: pos + bare[0].length };
}

/**
 * The built-in rules, in the order they apply. The private-key blocks are
 * listed for their names; the stream redactor masks them with a state machine
 * before any rule runs, so their length is unbounded.
 */
export const BUILTIN_REDACTION_RULES: readonly BuiltinRedactionRule[] = Object.freeze([
  regexRule(
    'bearer-token',
    /\bbearer[ \t]{1,16}[A-Za-z0-9._~+/-]{8,4096}=*/gi,
    'Bearer [REDACTED]',
  ),
  regexRule('basic-auth', /\bbasic[ \t]{1,16}([A-Za-z0-9+/]{8,4096}={0,2})/gi, (_, [value]) =>
    looksEncoded(value!) ? 'Basic [REDACTED]' : undefined,
  ),
  jwtRule(),
  regexRule(
    'emisar-token',
    new RegExp(`(?<![A-Za-z0-9_-])(?:${prefixes})[A-Za-z0-9_-]{30,4096}`, 'g'),
    '[REDACTED_EMISAR_TOKEN]',
  ),
  regexRule(
    'aws-access-key',
    /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    '[REDACTED_AWS_KEY]',
  ),
  regexRule(
    'github-token',
    /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/g,
    '[REDACTED_GH_TOKEN]',
  ),
  regexRule('gitlab-token', /\bglpat-[A-Za-z0-9_-]{20,255}/g, '[REDACTED_GITLAB_TOKEN]'),
  regexRule('slack-token', /\bxox[baprs]-[A-Za-z0-9-]{10,255}/g, '[REDACTED_SLACK_TOKEN]'),
  regexRule(
    'stripe-secret-key',
    /\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}/g,
    '[REDACTED_STRIPE_KEY]',
  ),
  regexRule(
    'anthropic-api-key',
    /\bsk-ant-api\d\d-[A-Za-z0-9_-]{20,4096}/g,
    '[REDACTED_ANTHROPIC_KEY]',
  ),
  regexRule(
    'openai-api-key',
    /\bsk-(?:(?:proj|svcacct)-[A-Za-z0-9_-]{20,4096}|[A-Za-z0-9]{32,4096})/g,
    '[REDACTED_OPENAI_KEY]',
  ),
  regexRule(
    'google-api-key',
    /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g,
    '[REDACTED_GOOGLE_API_KEY]',
  ),
  regexRule('npm-token', /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g, '[REDACTED_NPM_TOKEN]'),
  regexRule(
    'sendgrid-api-key',
    /\bSG\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{16,128}/g,
    '[REDACTED_SENDGRID_KEY]',
  ),
  privateKeyMarker('private-key-block'),
  privateKeyMarker('pgp-private-key-block'),
  urlCredentialsRule(),
  regexRule(
    'cookie-header',
    /\b((?:set-)?cookie)[ \t]{0,8}:[ \t]{0,8}[^\r\n]{1,8192}/gi,
    (_, [header]) => `${header}: [REDACTED]`,
    8192 + 32,
  ),
  // One scan finds both forms; secret-assignment runs alone only without json-secret-field.
  assignmentRule('json-secret-field', true),
  { ...assignmentRule('secret-assignment', false), coveredBy: 'json-secret-field' },
]);

function isBase64Url(c: number): boolean {
  return (
    (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95 || c === 45
  );
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * `eyJ…` header, payload and signature in base64url, each part at most 5400
 * characters. A scanner, not a regex: a regex backtracks over every `eyJ` in a
 * long run, which crafted output could make quadratic.
 */
function jwtRule(): BuiltinRedactionRule {
  const PART_MAX = 5400;
  const runEnd = (text: string, from: number) => {
    let i = from;
    while (i < text.length && isBase64Url(text.charCodeAt(i))) i++;
    return i;
  };
  return {
    name: 'jwt',
    type: 'builtin',
    maxLength: JWT_BOUND,
    apply(text) {
      let at = text.indexOf('eyJ');
      if (at === -1) return { text, count: 0 };
      let out = '';
      let copied = 0;
      let count = 0;
      while (at !== -1) {
        const headerEnd = runEnd(text, at + 3);
        let next = headerEnd;
        if (at === 0 || !isWordChar(text.charCodeAt(at - 1))) {
          const header = headerEnd - at - 3;
          if (header >= 2 && header <= PART_MAX && text[headerEnd] === '.') {
            const payloadEnd = runEnd(text, headerEnd + 1);
            const payload = payloadEnd - headerEnd - 1;
            if (payload >= 2 && payload <= PART_MAX && text[payloadEnd] === '.') {
              const end = Math.min(runEnd(text, payloadEnd + 1), payloadEnd + 1 + PART_MAX);
              out += `${text.slice(copied, at)}[REDACTED_JWT]`;
              copied = end;
              next = end;
              count++;
            }
          }
        }
        at = text.indexOf('eyJ', next);
      }
      return count === 0 ? { text, count } : { text: out + text.slice(copied), count };
    },
  };
}

/** `scheme://user:password@` → `scheme://[REDACTED]@`, found from the literal `://`. */
function urlCredentialsRule(): BuiltinRedactionRule {
  const userinfo = /[^\s:@/?#]{1,256}:[^\s@/?#]{1,1024}@/y;
  const schemeChar = /[A-Za-z0-9+.-]/;
  return {
    name: 'url-credentials',
    type: 'builtin',
    maxLength: 32 + 3 + 256 + 1 + 1024 + 1,
    apply(text) {
      let at = text.indexOf('://');
      if (at === -1) return { text, count: 0 };
      let out = '';
      let copied = 0;
      let count = 0;
      for (; at !== -1; at = text.indexOf('://', at + 3)) {
        if (at === 0 || !schemeChar.test(text[at - 1]!)) continue;
        userinfo.lastIndex = at + 3;
        const m = userinfo.exec(text);
        if (m === null) continue;
        out += `${text.slice(copied, at + 3)}[REDACTED]@`;
        copied = at + 3 + m[0].length;
        count++;
      }
      return count === 0 ? { text, count } : { text: out + text.slice(copied), count };
    },
  };
}

/** Private-key blocks are masked by the stream's state machine; as a line rule they do nothing. */
function privateKeyMarker(name: string): BuiltinRedactionRule {
  return { name, type: 'builtin', maxLength: 0, apply: (text) => ({ text, count: 0 }) };
}

export const PRIVATE_KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]+ )*)PRIVATE KEY( BLOCK)?-----/g;
export const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)?-----/g;
