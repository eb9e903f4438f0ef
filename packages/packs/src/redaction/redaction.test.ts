import { describe, expect, it } from 'vitest';
import {
  BUILTIN_REDACTION_EXAMPLES,
  BUILTIN_REDACTION_RULES,
  compileRedactionRules,
  createStreamRedactor,
  LINE_HOLD,
  type RedactionRuleInput,
  redactText,
  sensitiveValueRules,
  streamHoldBack,
} from '../index.js';

const builtins = compileRedactionRules(BUILTIN_REDACTION_RULES);
const redact = (text: string) => redactText(text, builtins).text;

const PEM = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
  'LxoS2tFczGkPLPgizskuemMghRniWaoLcyehkd3qqGElvW/VDL5AaWTg0nLVkjRo',
  '-----END RSA PRIVATE KEY-----',
].join('\n');
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

describe('built-in rules', () => {
  it('has examples for every rule, and redacts each as shown', () => {
    expect(Object.keys(BUILTIN_REDACTION_EXAMPLES).sort()).toEqual(
      BUILTIN_REDACTION_RULES.map((r) => r.name).sort(),
    );
    for (const [name, examples] of Object.entries(BUILTIN_REDACTION_EXAMPLES)) {
      expect(examples.length).toBeGreaterThan(0);
      for (const { text, redacted } of examples) {
        const result = redactText(text, builtins);
        expect(result.text, `${name}: ${text}`).toBe(redacted);
        expect(result.hits.map((h) => h.name)).toContain(name);
      }
    }
  });

  it.each([
    'basic configuration loaded',
    'Basic Authentication is enabled',
    'max_tokens=100 tokenizer=bpe',
    'passenger=3 bypass=on',
    'sk-short',
    'AKIAIOSFODNN7EXAMPLEX',
    'https://example.com/path?x=1',
    'level=info msg="started" key_count=3',
    '"password": "[REDACTED]"',
  ])('leaves ordinary text alone: %s', (input) => {
    expect(redact(input)).toBe(input);
  });

  it('lists every rule of the spec table', () => {
    expect(BUILTIN_REDACTION_RULES.map((r) => r.name).sort()).toEqual(
      [
        'anthropic-api-key',
        'basic-auth',
        'bearer-token',
        'cookie-header',
        'emisar-token',
        'aws-access-key',
        'github-token',
        'gitlab-token',
        'google-api-key',
        'json-secret-field',
        'jwt',
        'npm-token',
        'openai-api-key',
        'pgp-private-key-block',
        'private-key-block',
        'secret-assignment',
        'sendgrid-api-key',
        'slack-token',
        'stripe-secret-key',
        'url-credentials',
      ].sort(),
    );
  });

  it('masks an unterminated private key to the end of the stream', () => {
    const text = `before\n-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\nmore\n`;
    expect(redact(text)).toBe('before\n[REDACTED_PRIVATE_KEY]');
  });
});

describe('rule order and pack rules', () => {
  it('applies sensitive values (longest first), action rules, built-ins, then globals', () => {
    const rules: RedactionRuleInput[] = [
      ...sensitiveValueRules(['abc', 'abcdef']),
      { name: 'acl-hash', type: 'regex', pattern: '#[0-9A-Fa-f]{8}', replacement: '[ACL]' },
      ...BUILTIN_REDACTION_RULES,
      { name: 'internal-host', type: 'literal', literal: 'db7.internal', replacement: '[HOST]' },
      { name: 'jwt', type: 'literal', literal: 'never-applied', replacement: 'x' },
    ];
    const result = redactText('abcdef abc #deadbeef db7.internal never-applied', rules);
    expect(result.text).toBe('[REDACTED] [REDACTED] [ACL] [HOST] never-applied');
    // A rule borrowing a built-in's name cannot switch the built-in off.
    const borrowed = compileRedactionRules([
      { name: 'jwt', type: 'literal', literal: 'zzz', replacement: 'x' },
      ...BUILTIN_REDACTION_RULES,
    ]);
    expect(redactText(`a ${JWT}`, borrowed).text).toBe('a [REDACTED_JWT]');
    expect(result.hits).toEqual([
      { name: 'sensitive-arg', type: 'literal', count: 2 },
      { name: 'acl-hash', type: 'regex', count: 1 },
      { name: 'internal-host', type: 'literal', count: 1 },
    ]);
  });

  it('runs pack regexes with RE2 semantics, inline flags and Go replacement syntax', () => {
    const rules: RedactionRuleInput[] = [
      {
        name: 'ldap',
        type: 'regex',
        pattern: '(?i)(ldapbindpasswd=)[^,}\\s]*',
        replacement: '${1}[REDACTED]',
      },
      { name: 'named', type: 'regex', pattern: '(?P<k>user)=(\\w+)', replacement: '$k=[$$]' },
      { name: 'anchored', type: 'regex', pattern: '^secret-line.*$', replacement: '[LINE]' },
    ];
    const result = redactText(
      'LDAPBindPasswd=p4ss,x user=bob\nsecret-line here\nnot secret-line\n',
      rules,
    );
    expect(result.text).toBe('LDAPBindPasswd=[REDACTED],x user=[$]\n[LINE]\nnot secret-line\n');
  });
});

describe('createStreamRedactor', () => {
  it('holds back an unfinished line and emits whole lines', () => {
    const r = createStreamRedactor(builtins);
    expect(r.push('Authorization: Bearer abcd')).toBe('');
    expect(r.push('efgh1234\nnext')).toBe('Authorization: Bearer [REDACTED]\n');
    expect(r.end()).toBe('next');
    expect(r.hits()).toEqual([{ name: 'bearer-token', type: 'builtin', count: 1 }]);
  });

  it('streams a line longer than LINE_HOLD, holding back a bounded tail', () => {
    const r = createStreamRedactor(builtins);
    const bound = streamHoldBack(builtins);
    let out = '';
    let fed = 0;
    for (let i = 0; i < 40; i++) {
      out += r.push('x'.repeat(16 * 1024));
      fed += 16 * 1024;
      if (fed > LINE_HOLD) expect(fed - out.length).toBeLessThanOrEqual(bound);
    }
    out += r.end();
    expect(out.length).toBe(fed);
  });

  it('never splits a surrogate pair between outputs', () => {
    const line = `${'😀'.repeat(LINE_HOLD)} tail`;
    for (const size of [1, 7, 4096, 65_536]) {
      const r = createStreamRedactor(builtins);
      const outputs: string[] = [];
      for (let i = 0; i < line.length; i += size) outputs.push(r.push(line.slice(i, i + size)));
      outputs.push(r.end());
      for (const out of outputs) {
        if (out === '') continue;
        const first = out.charCodeAt(0);
        const last = out.charCodeAt(out.length - 1);
        if (first >= 0xdc00 && first <= 0xdfff)
          expect.fail(`an output starts with a low surrogate`);
        if (last >= 0xd800 && last <= 0xdbff) expect.fail(`an output ends with a high surrogate`);
      }
      expect(outputs.join('') === line).toBe(true);
    }
  });
});

// A deterministic PRNG so failures reproduce.
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function streamed(text: string, cuts: number[]): string {
  const r = createStreamRedactor(builtins);
  let out = '';
  let last = 0;
  for (const cut of cuts) {
    out += r.push(text.slice(last, cut));
    last = cut;
  }
  return out + r.push(text.slice(last)) + r.end();
}

describe('streaming equals whole-buffer redaction', () => {
  const secrets = {
    bearer: 'Bearer s3cr3tT0kenValue123',
    aws: 'AKIAIOSFODNN7EXAMPLE',
    jwt: JWT,
    url: 'https://deploy:hunter2pass@git.example.com/repo.git',
  };
  const text = [
    'starting job 42',
    `curl -H "Authorization: ${secrets.bearer}" https://api.example.com`,
    `export AWS_ACCESS_KEY_ID=${secrets.aws}`,
    PEM,
    `session ${secrets.jwt} accepted`,
    `cloning ${secrets.url}`,
    'done',
  ].join('\n');
  const forbidden = [
    's3cr3tT0kenValue123',
    secrets.aws,
    'MIIEowIBAAKCAQEA',
    'VTLw7onLRnrq0',
    'LxoS2tFczGkPLPgiz',
    JWT.split('.')[1]!,
    'SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c',
    'hunter2pass',
  ];
  const whole = redactText(text, builtins).text;

  it('masks every secret in the whole buffer', () => {
    for (const secret of forbidden) expect(whole).not.toContain(secret);
    expect(whole).toContain('[REDACTED_PRIVATE_KEY]');
  });

  it('gives the same output for a split at every possible boundary', () => {
    for (let i = 0; i <= text.length; i++) {
      const out = streamed(text, [i]);
      if (out !== whole) expect.fail(`split at ${i} differs`);
      for (const secret of forbidden)
        if (out.includes(secret)) expect.fail(`split at ${i} leaks ${secret}`);
    }
  });

  it('gives the same output one character at a time', () => {
    const cuts = Array.from({ length: text.length - 1 }, (_, i) => i + 1);
    expect(streamed(text, cuts)).toBe(whole);
  });

  it('gives the same output for random chunkings of a mixed log with over-long lines', () => {
    const rand = prng(20261127);
    const lines: string[] = [];
    for (let i = 0; i < 300; i++) {
      const pick = Math.floor(rand() * 30);
      if (pick === 0) lines.push(`GET /x Authorization: Bearer tok${i}abcdefgh`);
      else if (pick === 1) lines.push(`{"password": "pw${i}", "user": "u${i}"}`);
      else if (pick === 2) lines.push(PEM);
      else if (pick === 3)
        lines.push(`${'y'.repeat(LINE_HOLD + Math.floor(rand() * 5000))} AKIAIOSFODNN7EXAMPLE`);
      else if (pick === 4) lines.push(`unicode ✓ 😀 ${JWT}\r`);
      else
        lines.push(
          `2026-11-27T10:00:${i % 60} level=info msg="request ${i} ok" db_url=postgres://a:b@h/d`,
        );
    }
    const log = `${lines.join('\n')}\n-----BEGIN EC PRIVATE KEY-----\nMHcCAQEEIunterminated`;
    const expected = redactText(log, builtins).text;
    expect(expected).not.toContain('MHcCAQEEIunterminated');
    for (let round = 0; round < 20; round++) {
      const cuts: number[] = [];
      let at = 0;
      const maxChunk = [3, 100, 4096, 70_000][round % 4]!;
      while (true) {
        at += 1 + Math.floor(rand() * maxChunk);
        if (at >= log.length) break;
        cuts.push(at);
      }
      if (streamed(log, cuts) !== expected) expect.fail(`round ${round} differs`);
    }
  });
});
