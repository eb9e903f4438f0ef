import { describe, expect, it } from 'vitest';
import {
  BUILTIN_REDACTION_RULES,
  compileRedactionRules,
  createStreamRedactor,
  LINE_BOUND,
  type RedactionRuleInput,
  redactText,
  sensitiveValueRules,
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
  it.each([
    [
      'bearer-token',
      'Authorization: bearer s3cr3tT0kenValue123',
      'Authorization: Bearer [REDACTED]',
    ],
    ['basic-auth', 'Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic [REDACTED]'],
    ['jwt', `token=${JWT}`, 'token=[REDACTED_JWT]'],
    ['emisar-token', `key emk-${'a'.repeat(43)} ok`, 'key [REDACTED_EMISAR_TOKEN] ok'],
    ['emisar-token', `rnrtok-${'Zz9_-'.repeat(8)}`, '[REDACTED_EMISAR_TOKEN]'],
    ['aws-access-key', 'id AKIAIOSFODNN7EXAMPLE used', 'id [REDACTED_AWS_KEY] used'],
    ['github-token', `ghp_${'x'.repeat(36)}`, '[REDACTED_GH_TOKEN]'],
    ['gitlab-token', `glpat-${'y'.repeat(20)}`, '[REDACTED_GITLAB_TOKEN]'],
    ['slack-token', 'xoxb-123456789012-abcdefghij', '[REDACTED_SLACK_TOKEN]'],
    ['stripe-secret-key', 'sk_live_4eC39HqLyjWDarjtT1zdp7dc', '[REDACTED_STRIPE_KEY]'],
    ['openai-api-key', `sk-proj-${'q'.repeat(40)}`, '[REDACTED_OPENAI_KEY]'],
    ['openai-api-key', `sk-${'A1'.repeat(24)}`, '[REDACTED_OPENAI_KEY]'],
    ['anthropic-api-key', `sk-ant-api03-${'w'.repeat(90)}`, '[REDACTED_ANTHROPIC_KEY]'],
    ['google-api-key', `AIza${'b'.repeat(35)}`, '[REDACTED_GOOGLE_API_KEY]'],
    ['npm-token', `npm_${'c'.repeat(36)}`, '[REDACTED_NPM_TOKEN]'],
    ['sendgrid-api-key', `SG.${'d'.repeat(22)}.${'e'.repeat(43)}`, '[REDACTED_SENDGRID_KEY]'],
    ['url-credentials', 'postgres://app:hunter2pass@db:5432/x', 'postgres://[REDACTED]@db:5432/x'],
    ['cookie-header', 'Set-Cookie: session=abc; HttpOnly', 'Set-Cookie: [REDACTED]'],
    [
      'json-secret-field',
      '{"user":"bob","client_secret":"xyz\\"q","n":1}',
      '{"user":"bob","client_secret":"[REDACTED]","n":1}',
    ],
    ['json-secret-field', '{"apiKey": "k-1"}', '{"apiKey": "[REDACTED]"}'],
    ['secret-assignment', 'DB_PASSWORD=s3cret other=1', 'DB_PASSWORD=[REDACTED] other=1'],
    ['secret-assignment', 'redis.url: redis://h:6379', 'redis.url: [REDACTED]'],
    ['secret-assignment', "--token='abc def'", "--token='[REDACTED]'"],
    ['secret-assignment', '{"token": 12345}', '{"token": "[REDACTED]"}'],
    ['private-key-block', `a\n${PEM}\nb`, 'a\n[REDACTED_PRIVATE_KEY]\nb'],
    [
      'pgp-private-key-block',
      '-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----',
      '[REDACTED_PRIVATE_KEY]',
    ],
  ])('%s: %s', (name, input, expected) => {
    const result = redactText(input, builtins);
    expect(result.text).toBe(expected);
    expect(result.hits.map((h) => h.name)).toContain(name);
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

  it('cuts a line longer than the bound at the bound, never holding more', () => {
    const r = createStreamRedactor(builtins);
    const emitted = r.push('x'.repeat(LINE_BOUND + 10));
    expect(emitted).toBe('x'.repeat(LINE_BOUND));
    expect(r.end()).toBe('x'.repeat(10));
  });

  it('never splits a surrogate pair at a cut', () => {
    const r = createStreamRedactor(builtins);
    const line = `${'a'.repeat(LINE_BOUND - 1)}😀tail`;
    const first = r.push(line);
    expect(first).toBe('a'.repeat(LINE_BOUND - 1));
    expect(first + r.end()).toBe(line);
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
        lines.push(`${'y'.repeat(LINE_BOUND + Math.floor(rand() * 5000))} AKIAIOSFODNN7EXAMPLE`);
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
