// `npm start`: the zero-setup demo on one machine. The control plane on embedded
// PGlite at http://localhost:8080 and a local runner with the repo's packs/
// connected to it. First start seeds a workspace; later starts reuse it.
// Everything lives in ./.emisar/ (server data, demo state, runner home, logs).
import { execFile, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createWriteStream, existsSync } from 'node:fs';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = fileURLToPath(new URL('..', import.meta.url));
const serverBin = join(repo, 'packages/server/dist/main.js');
const runnerBin = join(repo, 'packages/runner/dist/cli.js');
const packsDir = join(repo, 'packs');

const home = resolve('.emisar');
const dataDir = join(home, 'data');
const statePath = join(home, 'demo.json');
const catalogPath = join(home, 'catalog.json');
const runnerHome = join(home, 'runner');
const runnerConfig = join(runnerHome, 'config.yaml');
const runnerData = join(runnerHome, 'data');

const port = Number(process.env.PORT || 8080);
const localUrl = `http://127.0.0.1:${port}`;
const baseUrl = process.env.EMISAR_BASE_URL || `http://localhost:${port}`;
const OWNER = process.env.EMISAR_DEMO_EMAIL || 'you@emisar.localhost';
const KEY_REFRESH_MS = 25 * 86_400_000; // demo keys live 30 days; mint a new one before that

const serverEnv = {
  ...process.env,
  LOG_LEVEL: process.env.LOG_LEVEL || 'info',
  PORT: String(port),
  EMISAR_DATA_DIR: dataDir,
  EMISAR_CATALOG_FILE: catalogPath,
};

const say = (line = '') => process.stdout.write(`${line}\n`);

/** Runs `emisar-server <args>`; resolves with its stdout, or fails with its message. */
function server(args) {
  return new Promise((done, fail) => {
    execFile(process.execPath, [serverBin, ...args], { env: serverEnv }, (error, out, err) => {
      if (error)
        fail(
          new Error(`emisar-server ${args.slice(0, 2).join(' ')}: ${err.trim() || error.message}`),
        );
      else done(out);
    });
  });
}

/** `emisar-server <args> --json`, parsed. */
const serverCli = async (args) => JSON.parse(await server([...args, '--json']));

async function readState() {
  try {
    return JSON.parse(await readFile(statePath, 'utf8'));
  } catch {
    return undefined;
  }
}

async function writeState(state) {
  await writeFile(statePath, `${JSON.stringify(state, null, 2)}\n`, { mode: 0o600 });
  await chmod(statePath, 0o600);
}

/** The runner's home: config 0600 (strict YAML), data dir 0750, journal beside it. */
async function writeRunnerHome() {
  await mkdir(runnerData, { recursive: true, mode: 0o750 });
  await chmod(runnerData, 0o750);
  await mkdir(join(runnerHome, 'log'), { recursive: true, mode: 0o750 });
  const config = `# Written by npm start. The runner of the local demo.
runner:
  id: ${JSON.stringify(hostname())}
cloud:
  url: ${JSON.stringify(localUrl)}
  reconnect_min: 200ms
  reconnect_max: 5s
paths:
  data_dir: data
  packs: [${JSON.stringify(packsDir)}]
events:
  jsonl_path: log/events.jsonl
`;
  await writeFile(runnerConfig, config, { mode: 0o600 });
  await chmod(runnerConfig, 0o600);
}

/** Seeds the workspace on first start; mints what this start needs (server stopped: PGlite is single-process). */
async function prepare() {
  await mkdir(home, { recursive: true, mode: 0o700 });
  let state = await readState();
  if (!state) {
    say('first start: creating the workspace…');
    const account = await serverCli([
      'account',
      'create',
      '--email',
      OWNER,
      '--workspace',
      'My workspace',
    ]);
    state = { slug: account.slug, owner: OWNER };
    await writeState(state);
  }
  if (!state.api_key || Date.now() - Date.parse(state.api_key_minted_at) > KEY_REFRESH_MS) {
    const key = await serverCli([
      'api-key',
      'create',
      '--account',
      state.slug,
      '--kind',
      'mcp',
      '--name',
      'npm start demo',
    ]);
    state = { ...state, api_key: key.secret, api_key_minted_at: new Date().toISOString() };
    await writeState(state);
  }
  // A runner without a token (first start, or its token was removed) enrolls with a fresh single-use key.
  let enrollmentKey;
  if (!existsSync(join(runnerData, 'token.json'))) {
    enrollmentKey = (
      await serverCli([
        'enrollment-key',
        'create',
        '--account',
        state.slug,
        '--name',
        'npm start demo',
      ])
    ).secret;
  }
  await server(['catalog', 'build', packsDir, '--out', catalogPath]);
  const bootstrap = await serverCli(['bootstrap']);
  await writeRunnerHome();
  return { state, enrollmentKey, bootstrap };
}

const children = new Set();
let stopping = false;

function startChild(name, args, env, logFile) {
  const log = createWriteStream(logFile, { flags: 'a', mode: 0o600 });
  // Own process group: Ctrl-C reaches only this script, which stops the runner, then the server.
  const child = spawn(process.execPath, args, {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  child.on('exit', (code, signal) => {
    children.delete(child);
    if (!stopping) {
      process.stderr.write(`${name} exited (${signal ?? code}); see ${logFile}\n`);
      stop(1);
    } else if (children.size === 0) {
      process.exit(process.exitCode ?? 0);
    }
  });
  children.add(child);
  return child;
}

/** Stops the runner first (it stores its results), then the server. */
function stop(code = 0) {
  if (stopping) return;
  stopping = true;
  process.exitCode = code;
  if (children.size === 0) process.exit(code);
  const [server, runner] = [serverChild, runnerChild];
  if (runner && children.has(runner)) {
    runner.once('exit', () => server?.kill('SIGTERM'));
    runner.kill('SIGTERM');
  } else server?.kill('SIGTERM');
}

async function waitFor(check, timeoutMs) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check().catch(() => undefined);
    if (value) return value;
    await new Promise((r) => setTimeout(r, 200));
  }
  return undefined;
}

let serverChild;
let runnerChild;

async function main() {
  const { state, enrollmentKey, bootstrap } = await prepare();
  serverChild = startChild(
    'emisar-server',
    [serverBin, 'start'],
    serverEnv,
    join(home, 'server.log'),
  );
  const healthy = await waitFor(async () => (await fetch(`${localUrl}/healthz`)).ok, 60_000);
  if (!healthy)
    throw new Error(
      `the server did not answer /healthz within 60 s; see ${join(home, 'server.log')}`,
    );

  runnerChild = startChild(
    'runner',
    [runnerBin, 'connect', '--config', runnerConfig],
    {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      ...(enrollmentKey ? { EMISAR_ENROLLMENT_KEY: enrollmentKey } : {}),
    },
    join(home, 'runner.log'),
  );

  const auth = { authorization: `Bearer ${state.api_key}` };
  const runner = await waitFor(async () => {
    const response = await fetch(`${localUrl}/api/v1/accounts/${state.slug}/runners`, {
      headers: auth,
    });
    const { runners } = await response.json();
    const online = runners?.find((r) => r.online);
    if (!online) return undefined;
    // Ready once its runner_state is in: linux.uptime advertised with the trusted hash.
    const { runner: { actions } = {} } = await (
      await fetch(`${localUrl}/api/v1/accounts/${state.slug}/runners/${online.id}`, {
        headers: auth,
      })
    ).json();
    return actions?.some((a) => a.id === 'linux.uptime' && a.trust === 'trusted')
      ? online
      : undefined;
  }, 60_000);
  const target =
    runner?.ref ??
    `${hostname()}~${createHash('sha256').update(hostname()).digest('hex').slice(0, 32)}`;

  const api = `${baseUrl}/api/v1/accounts/${state.slug}/runs`;
  const body = JSON.stringify({
    runner: target,
    action_id: 'linux.uptime',
    args: {},
    reason: 'first look at this host',
  });
  say();
  say(`emisar is running at ${baseUrl} (workspace "${state.slug}", data in ${home})`);
  say(
    runner
      ? `runner ${runner.name} is online with the packs in ${packsDir}`
      : `runner not online yet; see ${join(home, 'runner.log')}`,
  );
  say();
  say(`Sign in as ${bootstrap.email} (once, within 15 minutes, from this machine):`);
  say(`  ${bootstrap.link}`);
  say();
  say('Run linux.uptime on the runner through the REST API and wait for the result:');
  say();
  say(
    `  RUN=$(curl -sS -X POST '${api}' -H 'Authorization: Bearer ${state.api_key}' -H 'Content-Type: application/json' -d '${body}' | grep -o '"id":"[^"]*"' | head -1 | cut -d'"' -f4) && curl -sS '${api}/'"$RUN"'?wait=30s' -H 'Authorization: Bearer ${state.api_key}'`,
  );
  say();
  say(`Logs: ${join(home, 'server.log')}, ${join(home, 'runner.log')}. Ctrl-C stops both.`);
}

for (const signal of ['SIGINT', 'SIGTERM']) process.on(signal, () => stop(0));

main().catch((error) => {
  process.stderr.write(`npm start: ${error.message}\n`);
  stop(1);
});
