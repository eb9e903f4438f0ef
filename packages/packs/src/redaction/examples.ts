/** A line a built-in rule redacts, and what it becomes. */
export interface RedactionExample {
  text: string;
  redacted: string;
}

const PEM = [
  '-----BEGIN RSA PRIVATE KEY-----',
  'MIIEowIBAAKCAQEAu1SU1LfVLPHCozMxH2Mo4lgOEePzNm0tRgeLezV6ffAt0gun',
  'VTLw7onLRnrq0/IzW7yWR7QkrmBL7jTKEn5u+qKhbwKfBstIs+bMY2Zkp18gnTxK',
  '-----END RSA PRIVATE KEY-----',
].join('\n');
const JWT =
  'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiIxMjM0NTY3ODkwIiwibmFtZSI6IkpvaG4gRG9lIn0.SflKxwRJSMeKKF2QT4fwpMeJf36POk6yJV_adQssw5c';

const example = (text: string, redacted: string): RedactionExample => ({ text, redacted });

/**
 * Examples of every built-in rule (documentation, and the corpus the tests
 * cut at every offset). Each stands alone: it is redacted the same after any
 * text ending in a space.
 */
export const BUILTIN_REDACTION_EXAMPLES: Readonly<Record<string, readonly RedactionExample[]>> = {
  'bearer-token': [
    example('Authorization: bearer s3cr3tT0kenValue123', 'Authorization: Bearer [REDACTED]'),
  ],
  'basic-auth': [
    example('Authorization: Basic dXNlcjpwYXNzd29yZA==', 'Authorization: Basic [REDACTED]'),
  ],
  jwt: [example(`token=${JWT}`, 'token=[REDACTED_JWT]')],
  'emisar-token': [
    example(`key emk-${'a'.repeat(43)} ok`, 'key [REDACTED_EMISAR_TOKEN] ok'),
    example(`rnrtok-${'Zz9_-'.repeat(8)}`, '[REDACTED_EMISAR_TOKEN]'),
  ],
  'aws-access-key': [example('id AKIAIOSFODNN7EXAMPLE used', 'id [REDACTED_AWS_KEY] used')],
  'github-token': [example(`ghp_${'x'.repeat(36)}`, '[REDACTED_GH_TOKEN]')],
  'gitlab-token': [example(`glpat-${'y'.repeat(20)}`, '[REDACTED_GITLAB_TOKEN]')],
  'slack-token': [example('xoxb-123456789012-abcdefghij', '[REDACTED_SLACK_TOKEN]')],
  'stripe-secret-key': [example('sk_live_4eC39HqLyjWDarjtT1zdp7dc', '[REDACTED_STRIPE_KEY]')],
  'anthropic-api-key': [example(`sk-ant-api03-${'w'.repeat(90)}`, '[REDACTED_ANTHROPIC_KEY]')],
  'openai-api-key': [
    example(`sk-proj-${'q'.repeat(40)}`, '[REDACTED_OPENAI_KEY]'),
    example(`sk-${'A1'.repeat(24)}`, '[REDACTED_OPENAI_KEY]'),
  ],
  'google-api-key': [example(`AIza${'b'.repeat(35)}`, '[REDACTED_GOOGLE_API_KEY]')],
  'npm-token': [example(`npm_${'c'.repeat(36)}`, '[REDACTED_NPM_TOKEN]')],
  'sendgrid-api-key': [
    example(`SG.${'d'.repeat(22)}.${'e'.repeat(43)}`, '[REDACTED_SENDGRID_KEY]'),
  ],
  'private-key-block': [example(`a\n${PEM}\nb`, 'a\n[REDACTED_PRIVATE_KEY]\nb')],
  'pgp-private-key-block': [
    example(
      '-----BEGIN PGP PRIVATE KEY BLOCK-----\nlQOYBF\n-----END PGP PRIVATE KEY BLOCK-----',
      '[REDACTED_PRIVATE_KEY]',
    ),
  ],
  'url-credentials': [
    example('postgres://app:hunter2pass@db:5432/x', 'postgres://[REDACTED]@db:5432/x'),
  ],
  'cookie-header': [example('Set-Cookie: session=abc; HttpOnly', 'Set-Cookie: [REDACTED]')],
  'json-secret-field': [
    example(
      '{"user":"bob","client_secret":"xyz\\"q","n":1}',
      '{"user":"bob","client_secret":"[REDACTED]","n":1}',
    ),
    example('{"apiKey": "k-1"}', '{"apiKey": "[REDACTED]"}'),
  ],
  'secret-assignment': [
    example('DB_PASSWORD=s3cret other=1', 'DB_PASSWORD=[REDACTED] other=1'),
    example('redis.url: redis://h:6379', 'redis.url: [REDACTED]'),
    example("--token='abc def'", "--token='[REDACTED]'"),
    example('{"token": 12345}', '{"token": "[REDACTED]"}'),
  ],
};
