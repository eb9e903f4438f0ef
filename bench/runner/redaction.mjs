// Redaction throughput: built-in rules over ~100 MB of log-like text, then the
// same with one pack-authored RE2 rule added. Figures are a target, not a gate.
// Run after `npm run build`: node bench/runner/redaction.mjs [megabytes]
import {
  BUILTIN_REDACTION_RULES,
  compileRedactionRules,
  createStreamRedactor,
} from '@emisar/packs';

const megabytes = Number(process.argv[2] ?? 100);
const target = megabytes * 1024 * 1024;

// Mostly ordinary log lines, with a secret-bearing line now and then.
const templates = [
  (i) =>
    `2026-11-27T10:${String(i % 60).padStart(2, '0')}:00.123Z level=info msg="request handled" path=/api/v1/items/${i} status=200 duration_ms=${i % 97}`,
  (i) =>
    `Nov 27 10:00:${String(i % 60).padStart(2, '0')} web-${i % 8} nginx[${1000 + (i % 50)}]: 10.0.${i % 255}.${i % 199} - - "GET /static/app.${i}.js HTTP/1.1" 200 5123 "-" "Mozilla/5.0"`,
  (i) =>
    `{"ts":"2026-11-27T10:00:00Z","level":"debug","user_id":${i},"event":"cache_miss","key":"item:${i}","ttl":300}`,
  (i) => `worker ${i % 16} processed batch ${i} in ${i % 1000}ms (queue depth ${i % 77})`,
  (i) =>
    `WARN slow query took ${i % 5000}ms: SELECT * FROM orders WHERE customer_id = ${i} LIMIT 50`,
];
const secrets = [
  (i) => `curl -H "Authorization: Bearer tok${i}abcdefghijkl" https://api.example.com/v1`,
  (i) => `export AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMP${String(i % 100).padStart(2, '0')}`,
  (i) => `DATABASE_URL=postgres://app:pw${i}@db.internal:5432/app password=${i}`,
];

function buildText() {
  const lines = [];
  let size = 0;
  for (let i = 0; size < target; i++) {
    const line =
      i % 50 === 49 ? secrets[i % secrets.length](i) : templates[i % templates.length](i);
    lines.push(line);
    size += line.length + 1;
  }
  return `${lines.join('\n')}\n`;
}

function run(label, rules, text) {
  // Feed 64 KiB chunks, as a child process pipe would.
  const chunk = 64 * 1024;
  const redactor = createStreamRedactor(rules);
  const started = process.hrtime.bigint();
  let out = 0;
  for (let i = 0; i < text.length; i += chunk)
    out += redactor.push(text.slice(i, i + chunk)).length;
  out += redactor.end().length;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  const mb = text.length / (1024 * 1024);
  const hits = redactor.hits().reduce((sum, h) => sum + h.count, 0);
  console.log(
    `${label}: ${mb.toFixed(0)} MB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MB/s (${hits} hits, ${out} chars out)`,
  );
}

const text = buildText();
const builtins = compileRedactionRules(BUILTIN_REDACTION_RULES);
const withPackRule = compileRedactionRules([
  {
    name: 'acl-hash',
    type: 'regex',
    pattern: '(?i)(ldapbindpasswd=)[^,}\\s]*',
    replacement: '${1}[REDACTED]',
  },
  ...BUILTIN_REDACTION_RULES,
]);
console.log(`node ${process.version}, ${megabytes} MB of log-like text, 64 KiB chunks`);
run('built-in rules', builtins, text);
run('built-in rules + 1 pack RE2 rule', withPackRule, text);
