import { chmod, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileAdmission } from './admission.js';
import { ConfigError, loadRunnerConfig, parseRunnerConfig } from './config.js';

async function configFile(text: string, mode = 0o600): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'emisar-config-'));
  const path = join(dir, 'config.yaml');
  await writeFile(path, text);
  await chmod(path, mode);
  return path;
}

describe('runner config', () => {
  it('applies defaults and resolves relative paths against the file folder', async () => {
    const path = await configFile(
      'paths:\n  data_dir: data\nevents:\n  jsonl_path: log/events.jsonl\n',
    );
    const config = await loadRunnerConfig({ explicitPath: path, env: {} });
    const dir = join(path, '..');
    expect(config.paths.dataDir).toBe(join(dir, 'data'));
    expect(config.events.jsonlPath).toBe(join(dir, 'log/events.jsonl'));
    expect(config.cloud.tokenPath).toBe(join(dir, 'data/token.json'));
    expect(config.paths.packs).toEqual(['/etc/emisar/packs']);
    expect(config.cloud.heartbeatEveryMs).toBe(30_000);
    expect(config.cloud.reconnectMinMs).toBe(1000);
    expect(config.cloud.reconnectMaxMs).toBe(60_000);
    expect(config.execution.cancelGraceMs).toBe(30_000);
    expect(config.execution.inheritEnv).toEqual(['PATH', 'LANG', 'LC_ALL', 'TERM']);
    expect(config.events.maxPreviewBytes).toBe(4096);
    expect(config.events.maxSizeBytes).toBe(100 * 1024 * 1024);
    expect(config.events.maxBackups).toBe(5);
    expect(config.cloud.enrollmentKeyEnv).toBe('EMISAR_ENROLLMENT_KEY');
  });

  it('follows the search order: --config, $EMISAR_CONFIG, then the candidates', async () => {
    const a = await configFile('runner:\n  id: from-a\n');
    const b = await configFile('runner:\n  id: from-b\n');
    expect((await loadRunnerConfig({ explicitPath: a, env: { EMISAR_CONFIG: b } })).runner.id).toBe(
      'from-a',
    );
    expect(
      (await loadRunnerConfig({ env: { EMISAR_CONFIG: b }, searchPaths: [a] })).runner.id,
    ).toBe('from-b');
    expect(
      (await loadRunnerConfig({ env: {}, searchPaths: ['/nonexistent/x.yaml', a] })).runner.id,
    ).toBe('from-a');
    await expect(
      loadRunnerConfig({ env: {}, searchPaths: ['/nonexistent/x.yaml'] }),
    ).rejects.toThrow(ConfigError);
  });

  it('lets the environment override url, group and runner id', async () => {
    const path = await configFile(
      'runner:\n  id: file-id\n  group: g1\ncloud:\n  url: https://a.example\n',
    );
    const config = await loadRunnerConfig({
      explicitPath: path,
      env: { EMISAR_URL: 'https://b.example', EMISAR_GROUP: 'g2', EMISAR_RUNNER_ID: 'env-id' },
    });
    expect(config.cloud.url).toBe('https://b.example');
    expect(config.runner.group).toBe('g2');
    expect(config.runner.id).toBe('env-id');
  });

  it('refuses a config that group or others can write', async () => {
    const path = await configFile('runner:\n  id: x\n', 0o620);
    await expect(loadRunnerConfig({ explicitPath: path, env: {} })).rejects.toThrow(/can write/);
  });

  it.each([
    ['an unknown top-level key', 'nope: 1\n', /nope is not a known key/],
    ['an unknown nested key', 'cloud:\n  urll: https://x\n', /cloud.urll is not a known key/],
    ['a duplicate key', 'runner:\n  id: a\n  id: b\n', /invalid YAML/],
    ['two documents', 'runner: {}\n---\nrunner: {}\n', /exactly one YAML document/],
    ['plain http to a remote host', 'cloud:\n  url: http://example.com\n', /loopback/],
    ['a bad duration', 'execution:\n  cancel_grace: soon\n', /duration/],
    ['a preview above 64 KiB', 'events:\n  max_preview_bytes: 70000\n', /max_preview_bytes/],
    ['LD_PRELOAD inherited', 'execution:\n  inherit_env: [LD_PRELOAD]\n', /LD_PRELOAD/],
    [
      'the enrollment variable inherited',
      'execution:\n  inherit_env: [EMISAR_ENROLLMENT_KEY]\n',
      /EMISAR_ENROLLMENT_KEY/,
    ],
    ['a bad admission pattern', 'admission:\n  allow: ["linux.[x"]\n', /admission/],
    ['an unknown risk', 'admission:\n  max_risk: extreme\n', /max_risk/],
  ])('refuses %s', (_name, text, message) => {
    expect(() => parseRunnerConfig(text, '/etc/emisar/config.yaml', {})).toThrow(message);
  });

  it('permits plain http to loopback, and elsewhere only with allow_insecure', () => {
    expect(
      parseRunnerConfig('cloud:\n  url: http://127.0.0.1:8080\n', '/c.yaml', {}).cloud.url,
    ).toBe('http://127.0.0.1:8080');
    const config = parseRunnerConfig(
      'cloud:\n  url: http://cp.internal\n  allow_insecure: true\n',
      '/c.yaml',
      {},
    );
    expect(config.cloud.allowInsecure).toBe(true);
  });

  it('takes short durations for tests', () => {
    const config = parseRunnerConfig(
      'cloud:\n  heartbeat_every: 50ms\n  reconnect_min: 10ms\n  reconnect_max: 1s\nexecution:\n  cancel_grace: 1m30s\n',
      '/c.yaml',
      {},
    );
    expect(config.cloud.heartbeatEveryMs).toBe(50);
    expect(config.cloud.reconnectMinMs).toBe(10);
    expect(config.cloud.reconnectMaxMs).toBe(1000);
    expect(config.execution.cancelGraceMs).toBe(90_000);
  });
});

describe('admission', () => {
  it('admits everything up to high when both lists are empty and max_risk is unset', () => {
    const admission = compileAdmission({ allow: [], deny: [], maxRisk: undefined });
    expect(admission.check('a.b', 'high')).toEqual({ admitted: true });
    expect(admission.check('a.b', 'critical')).toEqual({
      admitted: false,
      why: 'risk critical is above admission.max_risk (unset, so high; set it to critical to admit critical actions)',
    });
    expect(
      compileAdmission({ allow: [], deny: [], maxRisk: 'critical' }).check('a.b', 'critical'),
    ).toEqual({ admitted: true });
  });

  it('lets * cross dots, requires an allow match, and lets deny win', () => {
    const admission = compileAdmission({
      allow: ['linux.*'],
      deny: ['linux.service.*'],
      maxRisk: undefined,
    });
    expect(admission.check('linux.disk.usage', 'low').admitted).toBe(true);
    expect(admission.check('postgres.query', 'low').admitted).toBe(false);
    expect(admission.check('linux.service.restart', 'low').admitted).toBe(false);
  });

  it('caps the risk tier', () => {
    const admission = compileAdmission({ allow: [], deny: [], maxRisk: 'high' });
    expect(admission.check('a.b', 'high').admitted).toBe(true);
    expect(admission.check('a.b', 'critical')).toEqual({
      admitted: false,
      why: 'risk critical is above admission.max_risk (high)',
    });
  });

  it('supports ? and classes, literal dots', () => {
    const admission = compileAdmission({
      allow: ['a.b?', 'x.[!z]y'],
      deny: [],
      maxRisk: undefined,
    });
    expect(admission.check('a.bc', 'low').admitted).toBe(true);
    expect(admission.check('aXbc', 'low').admitted).toBe(false);
    expect(admission.check('x.ay', 'low').admitted).toBe(true);
    expect(admission.check('x.zy', 'low').admitted).toBe(false);
  });
});
