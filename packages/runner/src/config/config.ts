import { readFile, stat } from 'node:fs/promises';
import { homedir, hostname } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { ACTION_ID, compileRedactionRules, type RedactionRuleSpec } from '@emisar/packs';
import { HEARTBEAT_INTERVAL_MS, RECONNECT_MAX_MS, RECONNECT_MIN_MS } from '@emisar/protocol';
import { parseAllDocuments } from 'yaml';
import { errorCode } from '../fs-util.js';
import { type AdmissionRules, compileAdmission, RISKS, type Risk } from './admission.js';
import { ConfigError, type Json, Reader } from './reader.js';

export { ConfigError } from './reader.js';

export interface RunnerConfig {
  /** The file this came from (absolute), or undefined when built from defaults. */
  path: string | undefined;
  runner: { id: string; group: string | undefined; labels: Record<string, string> };
  cloud: {
    url: string | undefined;
    allowInsecure: boolean;
    enrollmentKeyEnv: string;
    tokenPath: string | undefined;
    heartbeatEveryMs: number;
    reconnectMinMs: number;
    reconnectMaxMs: number;
  };
  paths: { dataDir: string | undefined; packs: string[] };
  execution: { inheritEnv: string[]; cancelGraceMs: number };
  admission: AdmissionRules;
  events: {
    jsonlPath: string | undefined;
    maxPreviewBytes: number;
    maxSizeBytes: number;
    maxBackups: number;
  };
  redaction: { rules: RedactionRuleSpec[] };
}

export const DEFAULT_CONFIG_PATHS = (env: NodeJS.ProcessEnv): string[] => [
  '/etc/emisar/config.yaml',
  join(env.HOME ?? homedir(), '.config/emisar/config.yaml'),
];

const BASE_INHERIT_ENV = ['PATH', 'LANG', 'LC_ALL', 'TERM'];
const MAX_PREVIEW_BYTES = 64 * 1024;

export interface LoadConfigOptions {
  /** `--config`; wins over everything. */
  explicitPath?: string | undefined;
  env?: NodeJS.ProcessEnv;
  /** `--packs-dir`; replaces paths.packs. */
  packsDir?: string | undefined;
  /** Candidate paths after --config and $EMISAR_CONFIG (tests override the system ones). */
  searchPaths?: string[];
}

/** Finds, checks and parses the runner config (search order of the runner spec). */
export async function loadRunnerConfig(options: LoadConfigOptions = {}): Promise<RunnerConfig> {
  const env = options.env ?? process.env;
  const path = await findConfigFile(options, env);
  await checkConfigPermissions(path);
  const text = await readFile(path, 'utf8');
  return parseRunnerConfig(text, path, env, options.packsDir);
}

async function findConfigFile(options: LoadConfigOptions, env: NodeJS.ProcessEnv): Promise<string> {
  if (options.explicitPath) return resolve(options.explicitPath);
  if (env.EMISAR_CONFIG) return resolve(env.EMISAR_CONFIG);
  const candidates = options.searchPaths ?? DEFAULT_CONFIG_PATHS(env);
  for (const candidate of candidates) {
    try {
      await stat(candidate);
      return candidate;
    } catch (error) {
      if (errorCode(error) !== 'ENOENT') throw error;
    }
  }
  throw new ConfigError(
    `no config file found (tried --config, $EMISAR_CONFIG, ${candidates.join(', ')})`,
  );
}

/** Refuses a config group/other can write, or owned by someone other than root or us. */
export async function checkConfigPermissions(path: string): Promise<void> {
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    if (errorCode(error) === 'ENOENT') throw new ConfigError(`${path}: config file not found`);
    throw error;
  }
  if (!info.isFile()) throw new ConfigError(`${path}: config is not a regular file`);
  if (info.mode & 0o022) {
    throw new ConfigError(`${path}: group or others can write the config; run chmod go-w ${path}`);
  }
  const uid = process.getuid?.();
  if (uid !== undefined && info.uid !== 0 && info.uid !== uid) {
    throw new ConfigError(`${path}: config must be owned by root or the current user`);
  }
}

export function parseRunnerConfig(
  text: string,
  path: string,
  env: NodeJS.ProcessEnv = process.env,
  packsDir?: string,
): RunnerConfig {
  const r = new Reader(path);
  const root = readRoot(text, path, r);
  const dir = dirname(path);
  const pathOf = (value: string | undefined) =>
    value === undefined ? undefined : isAbsolute(value) ? value : resolve(dir, value);

  const { runner, cloud, paths, execution, admission, events, redaction } = readSections(root, r);

  const labels = readLabels(runner, r);

  const url = env.EMISAR_URL || r.string(cloud, 'url', 'cloud.url');
  const allowInsecure = r.bool(cloud, 'allow_insecure', 'cloud.allow_insecure') ?? false;
  if (url !== undefined) checkCloudUrl(url, allowInsecure, r);

  const admissionConfig = readAdmission(admission, r);

  const enrollmentKeyEnv =
    r.string(cloud, 'enrollment_key_env', 'cloud.enrollment_key_env') ?? 'EMISAR_ENROLLMENT_KEY';
  const inheritEnv = readInheritEnv(execution, enrollmentKeyEnv, r);

  const rules = readRedactionRules(redaction.rules, r);

  const dataDir = pathOf(r.string(paths, 'data_dir', 'paths.data_dir'));
  const timing = readCloudTiming(cloud, r);

  return {
    path,
    runner: {
      id: env.EMISAR_RUNNER_ID || r.string(runner, 'id', 'runner.id') || hostname(),
      group: env.EMISAR_GROUP || r.string(runner, 'group', 'runner.group'),
      labels,
    },
    cloud: {
      url,
      allowInsecure,
      enrollmentKeyEnv,
      tokenPath:
        pathOf(r.string(cloud, 'token_path', 'cloud.token_path')) ??
        (dataDir ? join(dataDir, 'token.json') : undefined),
      ...timing,
    },
    paths: {
      dataDir,
      packs: packsDir
        ? [resolve(packsDir)]
        : (r.strings(paths, 'packs', 'paths.packs')?.map((p) => pathOf(p)!) ?? [
            '/etc/emisar/packs',
          ]),
    },
    execution: {
      inheritEnv: [...new Set([...BASE_INHERIT_ENV, ...inheritEnv])],
      cancelGraceMs: r.duration(execution, 'cancel_grace', 'execution.cancel_grace') ?? 30_000,
    },
    admission: admissionConfig,
    events: readEvents(events, pathOf, r),
    redaction: { rules },
  };
}

function readRoot(text: string, path: string, r: Reader): Json {
  const docs = parseAllDocuments(text, { uniqueKeys: true, strict: true, prettyErrors: false });
  if (!Array.isArray(docs) || docs.length > 1) {
    throw new ConfigError(`${path}: the config must hold exactly one YAML document`);
  }
  const doc = docs[0];
  if (doc && doc.errors.length > 0) {
    throw new ConfigError(`${path}: invalid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  }
  const parsed: unknown = doc ? doc.toJS({ maxAliasCount: 0 }) : {};
  const root = (parsed ?? {}) as Json;
  if (typeof root !== 'object' || Array.isArray(root)) r.fail('config', 'must be a mapping');
  for (const key of Object.keys(root)) if (!(key in SECTIONS)) r.fail(key, 'is not a known key');
  return root;
}

/** The config's sections and the keys each may hold. */
const SECTIONS = {
  runner: ['id', 'group', 'labels'],
  cloud: [
    'url',
    'allow_insecure',
    'enrollment_key_env',
    'token_path',
    'heartbeat_every',
    'reconnect_min',
    'reconnect_max',
  ],
  paths: ['data_dir', 'packs'],
  execution: ['inherit_env', 'cancel_grace'],
  admission: ['allow', 'deny', 'max_risk', 'break_glass'],
  events: ['jsonl_path', 'max_preview_bytes', 'max_size_bytes', 'max_backups'],
  redaction: ['rules'],
} as const;

function readSections(root: Json, r: Reader): Record<keyof typeof SECTIONS, Json> {
  const sections = {} as Record<keyof typeof SECTIONS, Json>;
  for (const [key, allowed] of Object.entries(SECTIONS) as [
    keyof typeof SECTIONS,
    readonly string[],
  ][])
    sections[key] = r.section(root, key, allowed);
  return sections;
}

function readLabels(runner: Json, r: Reader): Record<string, string> {
  const labels = runner.labels ?? {};
  if (
    typeof labels !== 'object' ||
    Array.isArray(labels) ||
    Object.values(labels as Json).some((v) => typeof v !== 'string')
  ) {
    r.fail('runner.labels', 'must map names to strings');
  }
  return labels as Record<string, string>;
}

function readAdmission(admission: Json, r: Reader): RunnerConfig['admission'] {
  const maxRisk = r.string(admission, 'max_risk', 'admission.max_risk');
  if (maxRisk !== undefined && !RISKS.includes(maxRisk as Risk)) {
    r.fail('admission.max_risk', `must be one of ${RISKS.join(', ')}`);
  }
  const allow = r.strings(admission, 'allow', 'admission.allow') ?? [];
  const deny = r.strings(admission, 'deny', 'admission.deny') ?? [];
  const breakGlass = r.strings(admission, 'break_glass', 'admission.break_glass') ?? [];
  for (const id of breakGlass) {
    if (!ACTION_ID.test(id)) {
      r.fail('admission.break_glass', `${JSON.stringify(id.slice(0, 64))} is not an action id`);
    }
  }
  const rules = { allow, deny, maxRisk: maxRisk as Risk | undefined, breakGlass };
  try {
    compileAdmission(rules);
  } catch (error) {
    r.fail('admission', (error as Error).message);
  }
  return rules;
}

function readInheritEnv(execution: Json, enrollmentKeyEnv: string, r: Reader): string[] {
  const inheritEnv = r.strings(execution, 'inherit_env', 'execution.inherit_env') ?? [];
  for (const name of inheritEnv) {
    if (/^(LD_|DYLD_)/.test(name) || name === 'BASH_ENV' || name === enrollmentKeyEnv) {
      r.fail('execution.inherit_env', `may not include ${name}`);
    }
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) r.fail('execution.inherit_env', 'holds a bad name');
  }
  return inheritEnv;
}

/** Heartbeat and reconnect timing; the defaults are the protocol's. */
function readCloudTiming(cloud: Json, r: Reader) {
  const reconnectMinMs =
    r.duration(cloud, 'reconnect_min', 'cloud.reconnect_min') ?? RECONNECT_MIN_MS;
  const reconnectMaxMs =
    r.duration(cloud, 'reconnect_max', 'cloud.reconnect_max') ?? RECONNECT_MAX_MS;
  if (reconnectMinMs <= 0 || reconnectMaxMs < reconnectMinMs) {
    r.fail('cloud.reconnect_min', 'must be positive and not above cloud.reconnect_max');
  }
  const heartbeatEveryMs =
    r.duration(cloud, 'heartbeat_every', 'cloud.heartbeat_every') ?? HEARTBEAT_INTERVAL_MS;
  if (heartbeatEveryMs <= 0) r.fail('cloud.heartbeat_every', 'must be positive');
  return { heartbeatEveryMs, reconnectMinMs, reconnectMaxMs };
}

function readEvents(
  events: Json,
  pathOf: (value: string | undefined) => string | undefined,
  r: Reader,
): RunnerConfig['events'] {
  return {
    jsonlPath: pathOf(r.string(events, 'jsonl_path', 'events.jsonl_path')),
    maxPreviewBytes:
      r.int(events, 'max_preview_bytes', 'events.max_preview_bytes', 0, MAX_PREVIEW_BYTES) ?? 4096,
    maxSizeBytes:
      r.int(events, 'max_size_bytes', 'events.max_size_bytes', 1024, 2 ** 40) ?? 100 * 1024 * 1024,
    maxBackups: r.int(events, 'max_backups', 'events.max_backups', 0, 1000) ?? 5,
  };
}

/** Global redaction rules: the pack rule shape, compiled once here so a bad pattern stops start-up. */
function readRedactionRules(value: unknown, r: Reader): RedactionRuleSpec[] {
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) r.fail('redaction.rules', 'must be a list');
  const rules = value.map((item, index): RedactionRuleSpec => {
    const name = `redaction.rules[${index}]`;
    if (typeof item !== 'object' || item === null || Array.isArray(item))
      r.fail(name, 'must be a mapping');
    const rule = item as Json;
    for (const key of Object.keys(rule)) {
      if (!['name', 'type', 'pattern', 'literal', 'replacement'].includes(key)) {
        r.fail(`${name}.${key}`, 'is not a known key');
      }
    }
    const ruleName = r.string(rule, 'name', `${name}.name`);
    const type = r.string(rule, 'type', `${name}.type`);
    if (!ruleName) r.fail(`${name}.name`, 'is required');
    if (type !== 'regex' && type !== 'literal') r.fail(`${name}.type`, 'must be regex or literal');
    const field = type === 'regex' ? 'pattern' : 'literal';
    const text = r.string(rule, field, `${name}.${field}`);
    if (!text) r.fail(`${name}.${field}`, 'is required');
    return {
      name: ruleName,
      type,
      [field]: text,
      replacement: r.string(rule, 'replacement', `${name}.replacement`) ?? '[REDACTED]',
    };
  });
  try {
    compileRedactionRules(rules);
  } catch (error) {
    r.fail('redaction.rules', `has a bad pattern: ${(error as Error).message.split('\n')[0]}`);
  }
  return rules;
}

function checkCloudUrl(url: string, allowInsecure: boolean, r: Reader): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    r.fail('cloud.url', 'is not a URL');
  }
  if (parsed.username || parsed.password) r.fail('cloud.url', 'must not carry credentials');
  if (parsed.protocol === 'https:' || parsed.protocol === 'wss:') return;
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'ws:') {
    r.fail('cloud.url', 'must be https:// (or http:// to loopback)');
  }
  if (!isLoopbackHost(parsed.hostname) && !allowInsecure) {
    r.fail('cloud.url', 'may use plain http only to a loopback host (or set cloud.allow_insecure)');
  }
}

export function isLoopbackHost(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  return bare === 'localhost' || bare === '::1' || /^127\.\d+\.\d+\.\d+$/.test(bare);
}

/** Values `connect` needs that the file may omit elsewhere. */
export function requireForDaemon(config: RunnerConfig): {
  dataDir: string;
  url: string;
  jsonlPath: string;
  tokenPath: string;
} {
  const where = config.path ?? 'config';
  if (!config.paths.dataDir)
    throw new ConfigError(`${where}: paths.data_dir is required for connect`);
  if (!config.cloud.url) throw new ConfigError(`${where}: cloud.url (or EMISAR_URL) is required`);
  return {
    dataDir: config.paths.dataDir,
    url: config.cloud.url,
    jsonlPath: requireJournalPath(config),
    tokenPath: config.cloud.tokenPath ?? join(config.paths.dataDir, 'token.json'),
  };
}

export function requireJournalPath(config: RunnerConfig): string {
  if (!config.events.jsonlPath) {
    throw new ConfigError(`${config.path ?? 'config'}: events.jsonl_path is required`);
  }
  return config.events.jsonlPath;
}
