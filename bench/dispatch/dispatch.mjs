// End-to-end dispatch: real `emisar-server start` and real `emisar connect`
// processes; a run is POST /api/v1/accounts/:slug/runs, then GET …/runs/:id?wait=30s
// until terminal. Prints
//   1. latency p50/p99 of N sequential trivial runs (linux.uptime) on one runner;
//   2. sustained runs/s with C concurrent callers spread over R runners
//      (an Enterprise-plan account, set with `emisar-server plan set`).
// Uses the built dist: run `npm run build` first.
//
//   node bench/dispatch/dispatch.mjs [--postgres] [--runs 1000] [--callers 50]
//                                    [--runners 20] [--seconds 20] [--json]
//
// --postgres needs DATABASE_URL (a fresh database is created beside it and dropped
// afterwards); without it the server runs on embedded PGlite in a temporary dir.
// Several runners on one machine need distinct hostnames: as root each runner runs
// in its own UTS namespace (`unshare --uts`), else only one runner is started.
// Goals (targets, not gates): p50 ≤ 15 ms; ≥ 150 runs/s per node on PostgreSQL.
import { execFile, spawn } from 'node:child_process';
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import pg from 'pg';
import { isTerminal } from '../../packages/server/dist/runs/tables.js';

const { values: options } = parseArgs({
  options: {
    postgres: { type: 'boolean', default: false },
    runs: { type: 'string', default: '1000' },
    callers: { type: 'string', default: '50' },
    runners: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '20' },
    json: { type: 'boolean', default: false },
  },
});
const runCount = Number(options.runs);
const callers = Number(options.callers);
const seconds = Number(options.seconds);
const root = process.getuid?.() === 0;
const runnerCount = root ? Number(options.runners) : 1;
for (const [name, value] of Object.entries({
  runs: runCount,
  callers,
  runners: runnerCount,
  seconds,
})) {
  if (!Number.isSafeInteger(value) || value < 1) {
    process.stderr.write(`--${name} must be a positive integer\n`);
    process.exit(2);
  }
}
if (options.postgres && !process.env.DATABASE_URL) {
  process.stderr.write('--postgres needs DATABASE_URL\n');
  process.exit(2);
}

const repo = fileURLToPath(new URL('../../', import.meta.url));
const serverBin = join(repo, 'packages/server/dist/main.js');
const runnerBin = join(repo, 'packages/runner/dist/cli.js');
const say = (text) => {
  if (!options.json) process.stdout.write(`${text}\n`);
};

const work = await mkdtemp(join(tmpdir(), 'emisar-bench-dispatch-'));
const database = await prepareDatabase();
const children = [];
const runnerLog = '';
try {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    LOG_LEVEL: 'warn',
    PORT: String(port),
    EMISAR_BASE_URL: url,
    EMISAR_DATA_DIR: join(work, 'server'),
    EMISAR_CATALOG_FILE: join(work, 'catalog.json'),
    // One API key drives every run: measure dispatch, not the per-credential budget.
    RATE_LIMIT_RUNS_PER_MINUTE: '0',
    ...database.env,
  };
  const cli = async (args) => JSON.parse(await serverCommand([...args, '--json'], env));
  await serverCommand(
    ['catalog', 'build', join(repo, 'packs'), '--out', env.EMISAR_CATALOG_FILE],
    env,
  );
  const { slug } = await cli([
    'account',
    'create',
    '--email',
    'bench@bench.test',
    '--workspace',
    'Bench',
  ]);
  await cli(['plan', 'set', slug, 'enterprise']);
  const { secret: key } = await cli(['api-key', 'create', '--account', slug]);
  const { secret: enrollment } = await cli([
    'enrollment-key',
    'create',
    '--account',
    slug,
    '--reusable',
    '--max-uses',
    String(runnerCount),
  ]);

  const server = spawn(process.execPath, [serverBin, 'start'], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.push(server);
  let serverLog = '';
  server.stdout.on('data', (d) => (serverLog += d));
  server.stderr.on('data', (d) => (serverLog += d));
  await until(
    async () => (await fetch(`${url}/healthz`)).ok,
    60_000,
    () => serverLog,
  );
  say(`server ${url} on ${database.kind}`);

  const auth = { authorization: `Bearer ${key}` };
  const jsonAuth = { ...auth, 'content-type': 'application/json' };
  const api = `${url}/api/v1/accounts/${slug}`;
  for (let i = 0; i < runnerCount; i++) children.push(await startRunner(i, url, enrollment));
  const runners = await until(
    async () => {
      const { runners: listed } = await (await fetch(`${api}/runners`, { headers: auth })).json();
      const online = (listed ?? []).filter((r) => r.online);
      if (online.length < runnerCount) return undefined;
      // Ready once each runner_state is in: linux.uptime advertised with the trusted hash.
      for (const runner of online) {
        const { runner: { actions } = {} } = await (
          await fetch(`${api}/runners/${runner.id}`, { headers: auth })
        ).json();
        if (!actions?.some((a) => a.id === 'linux.uptime' && a.trust === 'trusted'))
          return undefined;
      }
      return online;
    },
    120_000,
    () => `${serverLog}\n${runnerLog}`,
  );
  say(`${runners.length} runner(s) online`);

  /** One run: create, then wait until terminal; resolves with its final status. */
  async function oneRun(runner) {
    const created = await fetch(`${api}/runs`, {
      method: 'POST',
      headers: jsonAuth,
      body: JSON.stringify({
        runner: runner.ref,
        action_id: 'linux.uptime',
        args: {},
        reason: 'benchmark: trivial dispatch',
      }),
    });
    let run = await created.json();
    if (created.status !== 201) throw new Error(`create: ${created.status} ${JSON.stringify(run)}`);
    while (!isTerminal(run.status)) {
      const response = await fetch(`${api}/runs/${run.id}?wait=30s`, { headers: auth });
      run = await response.json();
    }
    return run;
  }

  // Warm-up (JIT, connection pools).
  for (let i = 0; i < 20; i++) await oneRun(runners[0]);

  const latencies = [];
  // Where the time goes, from the run's own timestamps (ms): queued→sent→started→finished.
  const phases = { delivery: [], start: [], execution: [] };
  let failures = 0;
  for (let i = 0; i < runCount; i++) {
    const start = process.hrtime.bigint();
    const run = await oneRun(runners[0]);
    latencies.push(Number(process.hrtime.bigint() - start) / 1e6);
    if (run.status !== 'success') failures++;
    const at = (field) => Date.parse(run[field]);
    phases.delivery.push(at('sent_at') - at('queued_at'));
    phases.start.push(at('started_at') - at('sent_at'));
    phases.execution.push(at('finished_at') - at('started_at'));
  }
  const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
  latencies.sort((a, b) => a - b);
  const pct = (p) =>
    latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
  const sequential = {
    runs: runCount,
    failures,
    p50Ms: round(pct(50)),
    p99Ms: round(pct(99)),
    maxMs: round(latencies.at(-1)),
    medianPhasesMs: {
      queuedToSent: median(phases.delivery),
      sentToStarted: median(phases.start),
      startedToFinished: median(phases.execution),
    },
  };
  say(
    `sequential: ${runCount} runs, p50 ${sequential.p50Ms} ms, p99 ${sequential.p99Ms} ms, max ${sequential.maxMs} ms, ${failures} not success (goal p50 ≤ 15 ms)`,
  );
  const p = sequential.medianPhasesMs;
  say(
    `  median phases: queued→sent ${p.queuedToSent} ms, sent→started ${p.sentToStarted} ms, started→finished ${p.startedToFinished} ms`,
  );

  let done = 0;
  let concurrentFailures = 0;
  const endAt = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: callers }, async (_, caller) => {
      for (let i = 0; Date.now() < endAt; i++) {
        const { status } = await oneRun(runners[(caller + i * callers) % runners.length]);
        if (status === 'success') done++;
        else concurrentFailures++;
      }
    }),
  );
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const sustained = {
    callers,
    runners: runners.length,
    seconds: round(elapsed),
    runs: done + concurrentFailures,
    failures: concurrentFailures,
    runsPerSecond: round(done / elapsed),
  };
  say(
    `sustained: ${callers} callers over ${runners.length} runners, ${sustained.runs} runs in ${sustained.seconds} s: ${sustained.runsPerSecond} successful runs/s, ${concurrentFailures} not success (goal ≥ 150/s per node on PostgreSQL)`,
  );
  if (options.json) {
    process.stdout.write(`${JSON.stringify({ backend: database.kind, sequential, sustained })}\n`);
  }
} finally {
  for (const child of children.reverse()) {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      await exited;
    }
  }
  await database.drop();
  await rm(work, { recursive: true, force: true });
}

function round(value) {
  return Math.round(value * 10) / 10;
}

async function until(check, timeoutMs, log) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms\n${log().slice(-4000)}`);
}

async function freePort() {
  const server = createServer();
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

function serverCommand(args, env) {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [serverBin, ...args], { env }, (error, stdout, stderr) => {
      if (error) reject(new Error(`emisar-server ${args[0]}: ${stderr.trim() || error.message}`));
      else resolve(stdout);
    });
  });
}

/** A runner home (config 0600, data 0750) and its `emisar connect` process. */
async function startRunner(index, url, enrollmentKey) {
  const home = join(work, `runner-${index}`);
  const name = `bench-${index}`;
  await mkdir(join(home, 'data'), { recursive: true, mode: 0o750 });
  await chmod(join(home, 'data'), 0o750);
  const config = join(home, 'config.yaml');
  await writeFile(
    config,
    `runner:\n  id: ${name}\ncloud:\n  url: ${url}\n  reconnect_min: 100ms\n  reconnect_max: 1s\npaths:\n  data_dir: data\n  packs: [${JSON.stringify(join(repo, 'packs'))}]\nevents:\n  jsonl_path: log/events.jsonl\n`,
    { mode: 0o600 },
  );
  const env = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    EMISAR_ENROLLMENT_KEY: enrollmentKey,
  };
  const args = [runnerBin, 'connect', '--config', config];
  const child = root
    ? spawn(
        'unshare',
        ['--uts', 'sh', '-c', 'hostname "$0" && exec "$@"', name, process.execPath, ...args],
        {
          env,
          stdio: 'ignore',
        },
      )
    : spawn(process.execPath, args, { env, stdio: 'ignore' });
  return child;
}

async function prepareDatabase() {
  if (!options.postgres) return { kind: 'PGlite', env: {}, drop: async () => {} };
  const base = new URL(process.env.DATABASE_URL);
  const name = `${base.pathname.slice(1)}_bench_${randomBytes(4).toString('hex')}`;
  const admin = async (sql) => {
    const client = new pg.Client({ connectionString: base.toString() });
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
    kind: 'PostgreSQL',
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
