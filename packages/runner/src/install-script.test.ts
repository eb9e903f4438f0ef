import { execFile } from 'node:child_process';
import { mkdtemp, readdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { parseRunnerConfig } from './config/config.js';

const script = fileURLToPath(new URL('../../../scripts/install-runner.sh', import.meta.url));
const run = promisify(execFile);

describe('scripts/install-runner.sh --dry-run', () => {
  it('prints every action it would take and changes nothing', async () => {
    const prefix = await mkdtemp(join(tmpdir(), 'emisar-install-'));
    const { stdout } = await run('sh', [
      script,
      '--dry-run',
      '--prefix',
      prefix,
      '--url',
      'https://cp.example.com',
      '--group',
      'web',
    ]);
    expect(await readdir(prefix)).toEqual([]);
    for (const expected of [
      /would run: (useradd --system .* emisar|.*)/,
      /usermod -a -G adm emisar|group adm does not exist/,
      /usermod -a -G systemd-journal emisar|group systemd-journal does not exist/,
      new RegExp(`install -d -m 0755 -o root -g root ${prefix}/etc/emisar/packs`),
      new RegExp(`install -d -m 0750 -o emisar -g emisar ${prefix}/var/lib/emisar`),
      new RegExp(`install -d -m 0750 -o emisar -g emisar ${prefix}/var/log/emisar`),
      new RegExp(`would write ${prefix}/etc/emisar/runner.env \\(mode 0600\\)`),
      new RegExp(
        `install -D -m 0644 .*emisar-runner.service ${prefix}/etc/systemd/system/emisar-runner.service`,
      ),
    ]) {
      expect(stdout).toMatch(expected);
    }
    // The config it would write is a valid runner config with max_risk high.
    const config = /would write .*config\.yaml \(mode 0644\):\n((?: {2}\| .*\n)+)/
      .exec(stdout)![1]!
      .split('\n')
      .map((line) => line.replace(/^ {2}\| ?/, ''))
      .join('\n');
    const parsed = parseRunnerConfig(config, '/etc/emisar/config.yaml', {});
    expect(parsed.admission.maxRisk).toBe('high');
    expect(parsed.runner.group).toBe('web');
    expect(parsed.cloud.url).toBe('https://cp.example.com');
    expect(parsed.paths.dataDir).toBe('/var/lib/emisar');
    expect(parsed.events.jsonlPath).toBe('/var/log/emisar/events.jsonl');
  });

  it('refuses plain http to a remote control plane', async () => {
    await expect(
      run('sh', [script, '--dry-run', '--url', 'http://cp.example.com']),
    ).rejects.toMatchObject({ code: 2 });
  });
});
