// Audit export throughput: writes N audit events for one account, starts a real
// `emisar-server start` process on the same database, exports everything with
// GET /api/audit?limit=all over HTTP, and prints events/s and the server's peak RSS.
// With --verify it checks the chain and the signed head statement (the last line)
// against the key the server publishes at /.well-known/emisar-audit-key.
// Imports the built dist: run `npm run build` first.
//
//   node bench/audit-export/export.mjs [--count 1000000] [--verify] [--json]
//
// PostgreSQL when DATABASE_URL is set (a fresh database is created beside it and
// dropped afterwards), else embedded PGlite in a temporary data dir.
// Goal (a target, not a gate): ≥100,000 events/s on PostgreSQL with the server under 200 MB RSS.
// BENCH_SERVER_NODE_OPTIONS is handed to the server process as NODE_OPTIONS (to try V8
// heap settings such as --max-semi-space-size=4).
import { spawn } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import http from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { createApiKey } from '../../packages/server/dist/credentials/api-keys.js';
import {
  migrateToLatest,
  openStorage,
  recordAuditEvents,
  verifyAuditExport,
} from '../../packages/server/dist/index.js';

const { values: options } = parseArgs({
  options: {
    count: { type: 'string', default: '1000000' },
    batch: { type: 'string', default: '5000' },
    verify: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const count = Number(options.count);
const batch = Number(options.batch);
if (!Number.isSafeInteger(count) || count < 1 || !Number.isSafeInteger(batch) || batch < 1) {
  process.stderr.write('--count and --batch must be positive integers\n');
  process.exit(2);
}
const say = (text) => {
  if (!options.json) process.stdout.write(`${text}\n`);
};
const serverBin = new URL('../../packages/server/dist/main.js', import.meta.url).pathname;

const database = await prepareDatabase();
try {
  const { secret } = await seed(database.target);
  const server = await startServer(database.env);
  say(`server ${server.url}`);
  try {
    const result = await exportAll(server, secret);
    const summary = {
      backend: database.target.kind,
      events: count,
      exported: result.lines,
      complete:
        result.lines === count &&
        result.firstSeq === 1 &&
        result.lastSeq === count &&
        result.consecutive &&
        result.signedHead,
      verified: result.verified,
      seconds: Number(result.seconds.toFixed(3)),
      eventsPerSecond: Math.round(result.lines / result.seconds),
      serverPeakRssMb: result.peakRssMb,
      serverRssBeforeMb: result.rssBeforeMb,
      nextCursor: result.nextCursor,
    };
    if (options.json) process.stdout.write(`${JSON.stringify(summary)}\n`);
    else {
      say(
        `exported ${summary.exported} of ${count} events in ${summary.seconds} s: ${summary.eventsPerSecond.toLocaleString('en')} events/s`,
      );
      say(
        `server RSS: ${summary.serverRssBeforeMb} MB before the export, peak ${summary.serverPeakRssMb} MB (VmHWM)`,
      );
      say(
        `complete and in order: ${summary.complete}${options.verify ? `; chain verified: ${summary.verified}` : ''}`,
      );
    }
    if (!summary.complete || (options.verify && !summary.verified)) process.exitCode = 1;
  } finally {
    await server.stop();
  }
} finally {
  await database.drop();
}

async function prepareDatabase() {
  const base = process.env.DATABASE_URL;
  if (!base) {
    const dataDir = await mkdtemp(join(tmpdir(), 'emisar-audit-bench-'));
    return {
      target: { kind: 'pglite', dataDir },
      env: { EMISAR_DATA_DIR: dataDir },
      drop: () => rm(dataDir, { recursive: true, force: true }),
    };
  }
  const name = `audit_bench_${randomBytes(5).toString('hex')}`;
  const admin = async (sql) => {
    const client = new pg.Client({ connectionString: base });
    await client.connect();
    try {
      await client.query(sql);
    } finally {
      await client.end();
    }
  };
  await admin(`CREATE DATABASE "${name}"`);
  const url = new URL(base);
  url.pathname = `/${name}`;
  return {
    target: { kind: 'postgres', url: url.toString() },
    env: {
      DATABASE_URL: url.toString(),
      EMISAR_SECRET_KEY: randomBytes(32).toString('base64'),
      EMISAR_SIGNING_KEY: generateKeyPairSync('ed25519')
        .privateKey.export({ format: 'pem', type: 'pkcs8' })
        .toString(),
    },
    drop: () => admin(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`),
  };
}

/** One account, an audit_export key and `count` events, written before the server starts. */
async function seed(target) {
  const storage = await openStorage(
    target.kind === 'pglite' ? { kind: 'pglite', dataDir: target.dataDir } : target,
  );
  try {
    await migrateToLatest(storage.db);
    const account = await storage.db
      .insertInto('accounts')
      .values({
        slug: `bench-${randomBytes(4).toString('hex')}`,
        name: 'Audit bench',
        plan: 'enterprise',
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    const clock = { now: () => new Date() };
    const key = await storage.db.transaction().execute((trx) =>
      createApiKey(
        trx,
        {
          accountId: account.id,
          kind: 'audit_export',
          membershipId: null,
          name: 'bench',
          createdBy: null,
        },
        clock,
      ),
    );
    const started = performance.now();
    for (let start = 0; start < count; start += batch) {
      const inputs = [];
      for (let n = start + 1; n <= Math.min(count, start + batch); n++)
        inputs.push(sampleEvent(account.id, n));
      await storage.db.transaction().execute((trx) => recordAuditEvents(trx, inputs));
      if (!options.json && (start / batch) % 20 === 0)
        process.stdout.write(`\rwriting… ${start + inputs.length}/${count}`);
    }
    const seconds = (performance.now() - started) / 1000;
    say(
      `\rwrote ${count} events in ${seconds.toFixed(1)} s (${Math.round(count / seconds).toLocaleString('en')} events/s, ${target.kind})`,
    );
    return { accountId: account.id, secret: key.secret };
  } finally {
    await storage.close();
  }
}

function sampleEvent(accountId, n) {
  return {
    accountId,
    eventType: n % 4 === 0 ? 'run.succeeded' : 'user.signed_in',
    actor: {
      kind: 'user',
      id: `6d1f2c1e-0000-4000-8000-${String(n % 1000).padStart(12, '0')}`,
      label: `person${n % 1000}@example.com`,
    },
    target: { kind: 'runner', id: `runner-${n % 50}`, label: `web-${n % 50}.example.internal` },
    payload: { action_id: 'linux.uptime', duration_ms: n % 997, args: { verbose: n % 2 === 0 } },
    context: {
      ip: '203.0.113.9',
      userAgent: 'emisar-mcp/1.0',
      requestId: `req_bench${n}`,
      authMethod: 'api_key:mcp',
      mfa: false,
    },
  };
}

async function startServer(env) {
  const child = spawn(process.execPath, [serverBin, 'start'], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(process.env.BENCH_SERVER_NODE_OPTIONS
        ? { NODE_OPTIONS: process.env.BENCH_SERVER_NODE_OPTIONS }
        : {}),
      PORT: '0',
      LOG_LEVEL: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const url = await new Promise((resolve, reject) => {
    const onData = (data) => {
      output += data;
      const match = /control plane .*listening on (https?:\/\/[^\s",)]+)/.exec(output);
      if (match) resolve(match[1]);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) =>
      reject(new Error(`server exited with ${code}: ${output.slice(-2000)}`)),
    );
  });
  // Keep draining its logs so the pipe never fills.
  child.stdout.on('data', () => {});
  return {
    url,
    pid: child.pid,
    async stop() {
      if (child.exitCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    },
  };
}

async function rssMb(pid, field) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? Number.NaN);
  return Math.round(kb / 1024);
}

/** Streams the export, checking order and count as lines arrive (and, with --verify, the chain). */
async function exportAll(server, secret) {
  const rssBeforeMb = await rssMb(server.pid, 'VmRSS');
  const started = performance.now();
  const response = await new Promise((resolve, reject) => {
    http
      .get(
        `${server.url}/api/audit?limit=all`,
        { headers: { authorization: `Bearer ${secret}` } },
        resolve,
      )
      .on('error', reject);
  });
  if (response.statusCode !== 200) throw new Error(`export answered ${response.statusCode}`);
  let lines = 0;
  let firstSeq = null;
  let lastSeq = 0;
  let consecutive = true;
  let head = null;
  const verifyQueue = options.verify ? [] : null;
  let rest = '';
  response.setEncoding('utf8');
  for await (const chunk of response) {
    const text = rest + chunk;
    const parts = text.split('\n');
    rest = parts.pop();
    for (const line of parts) {
      // Every response ends with its signed head statement, after the events.
      if (head !== null) consecutive = false;
      if (line.startsWith('{"type":')) {
        head = line;
        verifyQueue?.push(line);
        continue;
      }
      // Cheap on purpose: the client shares the machine with the server it measures.
      const seq = line.startsWith('{"seq":')
        ? Number(line.slice(7, line.indexOf(',', 7)))
        : Number.NaN;
      if (firstSeq === null) firstSeq = seq;
      else if (seq !== lastSeq + 1) consecutive = false;
      lastSeq = seq;
      lines += 1;
      verifyQueue?.push(line);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const peakRssMb = await rssMb(server.pid, 'VmHWM');
  let verified = null;
  if (verifyQueue) {
    const published = await getJson(`${server.url}/.well-known/emisar-audit-key`);
    const publicKey = createPublicKey(published.public_key);
    verified = (await verifyAuditExport(verifyQueue, { publicKey, filtered: false })).ok;
  }
  return {
    lines,
    firstSeq,
    lastSeq,
    consecutive: consecutive && rest === '',
    signedHead: head !== null,
    seconds,
    peakRssMb,
    rssBeforeMb,
    verified,
    nextCursor: response.headers['x-next-cursor'] ?? null,
  };
}

async function getJson(url) {
  const response = await new Promise((resolve, reject) => {
    http.get(url, resolve).on('error', reject);
  });
  let text = '';
  response.setEncoding('utf8');
  for await (const chunk of response) text += chunk;
  if (response.statusCode !== 200) throw new Error(`${url} answered ${response.statusCode}`);
  return JSON.parse(text);
}
