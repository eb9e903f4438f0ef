import { CREDENTIAL_PREFIXES } from '@emisar/protocol';
import {
  type PassResult,
  regexScanner,
  runScan,
  type Scanner,
  ScanStage,
  type Search,
  withAlso,
} from './scan.js';
import { isSecretKey, SECRET_KEY_HINT } from './secret-keys.js';

/**
 * A built-in rule: ours, linear-time JavaScript, confined to one line, each
 * decision reading at most `reach` characters from where it was found (so a
 * long line can be redacted as it streams, exactly as if it were whole).
 */
export interface BuiltinRedactionRule {
  readonly name: string;
  readonly type: 'builtin';
  readonly scanner: Scanner;
  /** When the named rule is in the same set, it already did this rule's work. */
  readonly coveredBy?: string;
  /** The name a combined pass counts its other hits under. */
  readonly alsoName?: string;
  apply(text: string): PassResult;
  stage(): ScanStage;
}

const TOKEN_BOUND = 4096;

function builtinRule(
  name: string,
  scanner: Scanner,
  extra: { coveredBy?: string; alsoName?: string } = {},
): BuiltinRedactionRule {
  const { alsoName } = extra;
  return {
    name,
    type: 'builtin',
    scanner,
    ...extra,
    apply(text) {
      const r = runScan(scanner, text, 0, 0, Number.POSITIVE_INFINITY);
      return withAlso({ text: r.text, count: r.count }, alsoName, r.also);
    },
    stage: () => new ScanStage(scanner, alsoName),
  };
}

/**
 * A rule from one global regex whose matches are at most maxLength long;
 * `replace` may return undefined to keep a match (not a secret after all).
 */
function regexRule(
  name: string,
  regex: RegExp,
  replace: string | ((match: string, groups: string[]) => string | undefined),
  maxLength: number,
): BuiltinRedactionRule {
  const decide = (m: RegExpExecArray) => {
    const groups = m.slice(1) as string[];
    return typeof replace === 'string'
      ? replace.replace(/\$(\d)/g, (_, i: string) => groups[Number(i) - 1] ?? '')
      : replace(m[0], groups);
  };
  // One character of look-ahead past the longest match (\b, (?!…), a greedy end).
  return builtinRule(name, regexScanner(regex, maxLength + 1, decide));
}

// Base64 that is more than an English word: a digit or symbol, or capitals past the first letter.
function looksEncoded(value: string): boolean {
  return /[0-9+/=]/.test(value) || /[A-Z]/.test(value.slice(1));
}

const sortedPrefixes = Object.values(CREDENTIAL_PREFIXES).sort((a, b) => b.length - a.length);
const longestPrefix = sortedPrefixes[0]!.length;
const prefixes = sortedPrefixes.map((p) => p.replace(/-/g, '\\-')).join('|');

const ALREADY_REDACTED = /^\[REDACTED/;
const SEPARATOR = /[ \t]{0,8}[:=][ \t]{0,8}/y;
const BARE_VALUE = /[^\s"',;&}\]]{1,4096}/y;

type Quote = '"' | "'" | '';

const KEY_MAX = 128;

function isKeyChar(c: number): boolean {
  return (
    (c >= 48 && c <= 57) ||
    (c >= 65 && c <= 90) ||
    (c >= 97 && c <= 122) ||
    c === 95 ||
    c === 46 ||
    c === 45
  );
}

/**
 * Finds `key = value`, `key: value` and `"key": value` where key is secret-like.
 * Scans only around substrings a secret key must contain, so ordinary log lines
 * cost one pass of a literal search. A key is at most 128 characters; the walk
 * over key characters stops one past that, so a decision stays in reach.
 */
function assignmentScanner(json: boolean, both: boolean): Scanner {
  const hint = new RegExp(SECRET_KEY_HINT.source, 'gi');
  const search =
    (text: string): Search =>
    (from, floor) => {
      hint.lastIndex = from;
      for (let m = hint.exec(text); m !== null; m = hint.exec(text)) {
        const hintEnd = m.index + m[0].length;
        let start = m.index;
        while (start > 0 && hintEnd - start <= KEY_MAX && isKeyChar(text.charCodeAt(start - 1)))
          start--;
        let end = hintEnd;
        while (end < text.length && end - m.index <= KEY_MAX && isKeyChar(text.charCodeAt(end)))
          end++;
        hint.lastIndex = end;
        if (start < floor || end - start > KEY_MAX || !isSecretKey(text.slice(start, end)))
          continue;
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
        return {
          anchor: m.index,
          start: pos,
          end: value.end,
          text: replacement,
          also: isJson !== json,
        };
      }
      return undefined;
    };
  // Key (plus the one character past it), quote, separator, a quoted value and its closing quote.
  return { reach: KEY_MAX + 1 + 1 + 17 + TOKEN_BOUND + 3, lookBehind: KEY_MAX + 2, over: search };
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
    /\bbearer[ \t]{1,16}[A-Za-z0-9._~+/-]{8,4096}={0,16}/gi,
    'Bearer [REDACTED]',
    6 + 16 + TOKEN_BOUND + 16,
  ),
  regexRule(
    'basic-auth',
    /\bbasic[ \t]{1,16}([A-Za-z0-9+/]{8,4096}={0,2})/gi,
    (_, [value]) => (looksEncoded(value!) ? 'Basic [REDACTED]' : undefined),
    5 + 16 + TOKEN_BOUND + 2,
  ),
  builtinRule('jwt', jwtScanner()),
  regexRule(
    'emisar-token',
    new RegExp(`(?<![A-Za-z0-9_-])(?:${prefixes})[A-Za-z0-9_-]{30,4096}`, 'g'),
    '[REDACTED_EMISAR_TOKEN]',
    longestPrefix + TOKEN_BOUND,
  ),
  regexRule(
    'aws-access-key',
    /(?<![A-Za-z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Za-z0-9])/g,
    '[REDACTED_AWS_KEY]',
    20,
  ),
  regexRule(
    'github-token',
    /\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})/g,
    '[REDACTED_GH_TOKEN]',
    11 + 255,
  ),
  regexRule('gitlab-token', /\bglpat-[A-Za-z0-9_-]{20,255}/g, '[REDACTED_GITLAB_TOKEN]', 6 + 255),
  regexRule('slack-token', /\bxox[baprs]-[A-Za-z0-9-]{10,255}/g, '[REDACTED_SLACK_TOKEN]', 5 + 255),
  regexRule(
    'stripe-secret-key',
    /\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,255}/g,
    '[REDACTED_STRIPE_KEY]',
    8 + 255,
  ),
  regexRule(
    'anthropic-api-key',
    /\bsk-ant-api\d\d-[A-Za-z0-9_-]{20,4096}/g,
    '[REDACTED_ANTHROPIC_KEY]',
    13 + TOKEN_BOUND,
  ),
  regexRule(
    'openai-api-key',
    /\bsk-(?:(?:proj|svcacct)-[A-Za-z0-9_-]{20,4096}|[A-Za-z0-9]{32,4096})/g,
    '[REDACTED_OPENAI_KEY]',
    11 + TOKEN_BOUND,
  ),
  regexRule(
    'google-api-key',
    /\bAIza[0-9A-Za-z_-]{35}(?![0-9A-Za-z_-])/g,
    '[REDACTED_GOOGLE_API_KEY]',
    39,
  ),
  regexRule('npm-token', /\bnpm_[A-Za-z0-9]{36}(?![A-Za-z0-9])/g, '[REDACTED_NPM_TOKEN]', 40),
  regexRule(
    'sendgrid-api-key',
    /\bSG\.[A-Za-z0-9_-]{16,64}\.[A-Za-z0-9_-]{16,128}/g,
    '[REDACTED_SENDGRID_KEY]',
    3 + 64 + 1 + 128,
  ),
  privateKeyMarker('private-key-block'),
  privateKeyMarker('pgp-private-key-block'),
  builtinRule('url-credentials', urlCredentialsScanner()),
  regexRule(
    'cookie-header',
    /\b((?:set-)?cookie)[ \t]{0,8}:[ \t]{0,8}[^\r\n]{1,8192}/gi,
    (_, [header]) => `${header}: [REDACTED]`,
    10 + 8 + 1 + 8 + 8192,
  ),
  // One scan finds both forms; secret-assignment runs alone only without json-secret-field.
  builtinRule('json-secret-field', assignmentScanner(true, true), {
    alsoName: 'secret-assignment',
  }),
  builtinRule('secret-assignment', assignmentScanner(false, false), {
    coveredBy: 'json-secret-field',
  }),
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
 * characters, after a non-word character. A scanner, not a regex: a regex
 * backtracks over every `eyJ` in a long run, which crafted output could make
 * quadratic. Every candidate in a run shares the run's end, so one failure
 * rules out the candidates after it, and a remembered run end is not scanned
 * twice.
 */
function jwtScanner(): Scanner {
  const PART_MAX = 5400;
  return {
    // The header, payload and signature with their dots, and one character past each run.
    reach: 3 + 3 * PART_MAX + 3,
    lookBehind: 1,
    over(text) {
      let runFrom = -1;
      let runTo = -1;
      const runEnd = (from: number) => {
        if (from >= runFrom && from <= runTo) return runTo;
        let i = from;
        while (i < text.length && isBase64Url(text.charCodeAt(i))) i++;
        runFrom = from;
        runTo = i;
        return i;
      };
      return (from) => {
        let at = text.indexOf('eyJ', from);
        while (at !== -1) {
          if (at > 0 && isWordChar(text.charCodeAt(at - 1))) {
            at = text.indexOf('eyJ', at + 1);
            continue;
          }
          const headerEnd = runEnd(at + 3);
          const header = headerEnd - at - 3;
          if (header > PART_MAX) {
            // A later start in the same run has a short enough header only this far on.
            at = text.indexOf('eyJ', Math.max(at + 1, headerEnd - 3 - PART_MAX));
            continue;
          }
          const payloadEnd = header >= 2 && text[headerEnd] === '.' ? runEnd(headerEnd + 1) : -1;
          const payload = payloadEnd - headerEnd - 1;
          if (payload < 2 || payload > PART_MAX || text[payloadEnd] !== '.') {
            at = text.indexOf('eyJ', headerEnd);
            continue;
          }
          const end = Math.min(runEnd(payloadEnd + 1), payloadEnd + 1 + PART_MAX);
          return { anchor: at, start: at, end, text: '[REDACTED_JWT]' };
        }
        return undefined;
      };
    },
  };
}

/** `scheme://user:password@` → `scheme://[REDACTED]@`, found from the literal `://`. */
function urlCredentialsScanner(): Scanner {
  const userinfo = /[^\s:@/?#]{1,256}:[^\s@/?#]{1,1024}@/y;
  const schemeChar = /[A-Za-z0-9+.-]/;
  return {
    reach: 3 + 256 + 1 + 1024 + 1,
    lookBehind: 1,
    over: (text) => (from) => {
      for (let at = text.indexOf('://', from); at !== -1; at = text.indexOf('://', at + 3)) {
        if (at === 0 || !schemeChar.test(text[at - 1]!)) continue;
        userinfo.lastIndex = at + 3;
        const m = userinfo.exec(text);
        if (m === null) continue;
        return { anchor: at, start: at + 3, end: at + 3 + m[0].length, text: '[REDACTED]@' };
      }
      return undefined;
    },
  };
}

/** Private-key blocks are masked by the stream's state machine; as a line rule they do nothing. */
function privateKeyMarker(name: string): BuiltinRedactionRule {
  return builtinRule(name, { reach: 0, lookBehind: 0, over: () => () => undefined });
}

/** The longest text either private-key marker can match (at most four words before PRIVATE). */
export const PRIVATE_KEY_MARKER_BOUND = 11 + 4 * 33 + 11 + 6 + 5;
export const PRIVATE_KEY_BEGIN = /-----BEGIN ((?:[A-Z0-9]{1,32} ){0,4})PRIVATE KEY( BLOCK)?-----/g;
export const PRIVATE_KEY_END = /-----END (?:[A-Z0-9]{1,32} ){0,4}PRIVATE KEY(?: BLOCK)?-----/g;
