import { access, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { Command } from 'commander';
import { cloudUrl } from '../cloud/enrollment.js';
import { keyFingerprint, readTokenFile } from '../cloud/token.js';
import type { RunnerConfig } from '../config/config.js';
import { loadRegistry } from '../engine/registry.js';
import { checkAvailability } from '../engine/state.js';
import { errorMessage } from '../fs-util.js';
import { verifyJournalFile } from '../journal/verify.js';
import { detectIsolation } from '../runtime.js';
import { readDispatchLog } from '../state/dispatch-log.js';
import { configFor, EXIT_FAILURE, globals, print, printJson } from './common.js';

type Level = 'ok' | 'warn' | 'fail';
interface Check {
  check: string;
  level: Level;
  detail: string;
}

type Add = (check: string, level: Level, detail: string) => void;

const UNIT_PATHS = [
  '/etc/systemd/system/emisar-runner.service',
  '/lib/systemd/system/emisar-runner.service',
];

export async function runDoctor(
  config: RunnerConfig,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Check[]> {
  const checks: Check[] = [];
  const add: Add = (check, level, detail) => checks.push({ check, level, detail });
  add('config', 'ok', config.path ?? '(defaults)');
  await checkCredential(config, add, env);
  await checkDispatchLog(config, add);
  await checkPacks(config, add, env);
  await checkIsolation(add);
  await checkJournal(config, add);
  await checkServiceUnit(add);
  await checkControlPlane(config, add);
  return checks;
}

async function checkCredential(
  config: RunnerConfig,
  add: Add,
  env: NodeJS.ProcessEnv,
): Promise<void> {
  const tokenPath = config.cloud.tokenPath;
  const key = env[config.cloud.enrollmentKeyEnv];
  if (!tokenPath)
    add('credential', 'warn', 'no paths.data_dir or cloud.token_path: connect cannot run');
  else {
    try {
      const token = await readTokenFile(tokenPath);
      if (!token) {
        add(
          'credential',
          key ? 'ok' : 'fail',
          key
            ? `no token yet; will register with $${config.cloud.enrollmentKeyEnv}`
            : `no token at ${tokenPath} and $${config.cloud.enrollmentKeyEnv} is unset`,
        );
      } else if (key && token.key_fp !== keyFingerprint(key)) {
        add('credential', 'warn', 'the enrollment key changed: connect will register again');
      } else {
        const due = Date.parse(token.refresh_after) <= Date.now();
        add('credential', 'ok', `token present (0600)${due ? ', refresh due' : ''}`);
      }
    } catch (error) {
      add('credential', 'fail', errorMessage(error));
    }
  }
}

async function checkDispatchLog(config: RunnerConfig, add: Add): Promise<void> {
  if (config.paths.dataDir) {
    const path = join(config.paths.dataDir, 'dispatches.jsonl');
    try {
      const entries = await readDispatchLog(path);
      const pending = [...entries.values()].filter((e) => e.state !== 'acknowledged').length;
      add('dispatch log', 'ok', `${entries.size} entries, ${pending} not acknowledged`);
    } catch (error) {
      add('dispatch log', 'fail', errorMessage(error));
    }
  }
}

async function checkPacks(config: RunnerConfig, add: Add, env: NodeJS.ProcessEnv): Promise<void> {
  for (const dir of config.paths.packs) {
    const exists = await stat(dir).then(
      (s) => s.isDirectory(),
      () => false,
    );
    add('pack dir', exists ? 'ok' : 'warn', `${dir}${exists ? '' : ' does not exist'}`);
  }
  try {
    const registry = await loadRegistry(config);
    add('packs', 'ok', `${registry.packs.length} packs, ${registry.actions.size} actions`);
    for (const d of registry.degraded) add('degraded pack', 'warn', `${d.pack}: ${d.reason}`);
    const availability = await checkAvailability(registry, env.PATH ?? '');
    for (const [id, a] of availability) {
      if (!a.available) add('binary', 'warn', `${a.missing} (for ${id}) is not on PATH`);
    }
  } catch (error) {
    add('packs', 'fail', errorMessage(error));
  }
}

async function checkIsolation(add: Add): Promise<void> {
  const isolation = await detectIsolation();
  add(
    'containment',
    isolation.containment.mode === 'cgroup' ? 'ok' : 'warn',
    isolation.containment.mode === 'cgroup'
      ? `cgroup v2 per run under ${isolation.containment.base} (cgroup.kill: nothing escapes)`
      : `process groups only (${isolation.containment.reason}); a setsid/double-forked grandchild can outlive a cancel`,
  );
  add(
    'setpriv',
    isolation.setpriv ? 'ok' : 'warn',
    isolation.setpriv
      ? `${isolation.setpriv.path}: no_new_privs, pdeathsig KILL, user switching`
      : 'util-linux setpriv not found: children may gain privileges through setuid programs, can outlive a killed runner, and actions with user: cannot run',
  );
}

async function checkJournal(config: RunnerConfig, add: Add): Promise<void> {
  if (config.events.jsonlPath) {
    const report = await verifyJournalFile(config.events.jsonlPath);
    if (report.ok || (report.lines === 0 && report.head === 'missing'))
      add('journal', 'ok', `${report.lines} lines, chain intact`);
    else add('journal', 'fail', `line ${report.break?.line}: ${report.break?.problem}`);
  } else add('journal', 'fail', 'events.jsonl_path is not set');
}

async function checkServiceUnit(add: Add): Promise<void> {
  let unit: string | undefined;
  for (const path of UNIT_PATHS)
    if (
      await access(path).then(
        () => true,
        () => false,
      )
    )
      unit = path;
  add('service unit', unit ? 'ok' : 'warn', unit ?? 'emisar-runner.service is not installed');
}

async function checkControlPlane(config: RunnerConfig, add: Add): Promise<void> {
  if (config.cloud.url) {
    try {
      const started = Date.now();
      const response = await fetch(cloudUrl(config.cloud.url, 'healthz'), {
        signal: AbortSignal.timeout(10_000),
      });
      const serverDate = Date.parse(response.headers.get('date') ?? '');
      const skewS = Number.isNaN(serverDate)
        ? undefined
        : Math.round((serverDate - (started + Date.now()) / 2) / 1000);
      add(
        'control plane',
        response.ok ? 'ok' : 'fail',
        `${config.cloud.url} answered ${response.status}`,
      );
      if (skewS !== undefined)
        add(
          'clock skew',
          Math.abs(skewS) > 60 ? 'warn' : 'ok',
          `${skewS}s against the control plane`,
        );
    } catch (error) {
      add('control plane', 'fail', `${config.cloud.url} unreachable: ${errorMessage(error)}`);
    }
  } else add('control plane', 'warn', 'cloud.url is not set');
}

export function registerDoctorCommand(program: Command): void {
  program
    .command('doctor')
    .description(
      'check config, credential, dispatch log, packs, binaries, isolation, journal, service unit, control plane',
    )
    .action(async (_opts: unknown, command: Command) => {
      const checks = await runDoctor(await configFor(command));
      if (globals(command).json) printJson({ checks });
      else for (const c of checks) print(`${c.level.padEnd(4)}  ${c.check.padEnd(14)} ${c.detail}`);
      if (checks.some((c) => c.level === 'fail')) process.exitCode = EXIT_FAILURE;
    });
}
