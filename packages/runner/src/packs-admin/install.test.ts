import { appendFile, mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { loadPack, packTarball } from '@emisar/packs';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadRunnerConfig, type RunnerConfig } from '../config/config.js';
import { spawnDaemon } from '../test-support/cli.js';
import { FakeControlPlane } from '../test-support/control-plane.js';
import { writeRunnerHome, writeTestPack } from '../test-support/packs.js';
import { installPack, uninstallPack } from './install.js';
import { readHostFacts, suggestPacks } from './suggest.js';

let config: RunnerConfig;
let installDir: string;
let source: Awaited<ReturnType<typeof writeTestPack>>;
let home: Awaited<ReturnType<typeof writeRunnerHome>>;

async function setup(url?: string) {
  source = await writeTestPack();
  await mkdir(join(source.dir, 'test'));
  await writeFile(join(source.dir, 'test/notes.md'), 'not shipped');
  home = await writeRunnerHome({ packs: [], url });
  installDir = join(home.home, 'packs');
  const text = await readFile(home.configPath, 'utf8');
  await writeFile(
    home.configPath,
    text.replace('packs: []', `packs: [${JSON.stringify(installDir)}]`),
  );
  config = await loadRunnerConfig({ explicitPath: home.configPath, env: {} });
}

describe('pack install / update / uninstall', () => {
  beforeEach(() => setup());

  it('installs exactly the hashed files from a directory, with the same hash', async () => {
    const original = await loadPack(source.dir);
    const outcome = await installPack({ config, source: source.dir, mode: 'install' });
    expect(outcome).toMatchObject({
      dir: join(installDir, 'testkit'),
      replaced: false,
      reloaded: undefined,
    });
    expect(outcome.pack.hash).toBe(original.hash);
    expect((await readdir(outcome.dir)).sort()).toEqual(['actions', 'pack.yaml', 'scripts']);
    await expect(installPack({ config, source: source.dir, mode: 'install' })).rejects.toThrow(
      /already installed/,
    );
    expect((await readdir(installDir)).filter((n) => n.startsWith('.'))).toEqual([]);
  });

  it('updates in place, and refuses a hash that does not match (leaving the old pack)', async () => {
    const first = await installPack({ config, source: source.dir, mode: 'install' });
    await appendFile(join(source.dir, 'actions/echo.yaml'), '\n# v2\n');
    await expect(
      installPack({ config, source: source.dir, mode: 'update', expectedHash: first.pack.hash }),
    ).rejects.toThrow(/hash mismatch/);
    expect((await loadPack(first.dir)).hash).toBe(first.pack.hash);
    const second = await installPack({ config, source: source.dir, mode: 'update' });
    expect(second.replaced).toBe(true);
    expect(second.pack.hash).not.toBe(first.pack.hash);
    await expect(
      installPack({ config, source: join(home.home, 'nope'), mode: 'update' }),
    ).rejects.toThrow(/does not exist/);
    await expect(installPack({ config, source: 'redis=1.2.0', mode: 'install' })).rejects.toThrow(
      /registry/,
    );
  });

  it('installs a .tar.gz pinned by hash, and from a URL only with --hash', async () => {
    const pack = await loadPack(source.dir);
    const archive = join(home.home, 'testkit.tar.gz');
    await writeFile(archive, await packTarball(pack));
    const server = createServer((_req, res) => {
      readFile(archive).then((bytes) => res.end(bytes));
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/testkit.tar.gz`;
    try {
      await expect(installPack({ config, source: url, mode: 'install' })).rejects.toThrow(
        /needs --hash/,
      );
      await expect(
        installPack({
          config,
          source: url,
          mode: 'install',
          expectedHash: `sha256:${'0'.repeat(64)}`,
        }),
      ).rejects.toThrow(/hash mismatch/);
      const fromUrl = await installPack({
        config,
        source: url,
        mode: 'install',
        expectedHash: pack.hash,
      });
      expect(fromUrl.pack.hash).toBe(pack.hash);
      const fromFile = await installPack({
        config,
        source: archive,
        mode: 'update',
        expectedHash: pack.hash,
      });
      expect(fromFile.replaced).toBe(true);
    } finally {
      server.close();
    }
  });

  it('uninstalls', async () => {
    await installPack({ config, source: source.dir, mode: 'install' });
    await uninstallPack(config, 'testkit');
    expect(await readdir(installDir)).toEqual([]);
    await expect(uninstallPack(config, 'testkit')).rejects.toThrow(/not installed/);
  });
});

describe('pack install with a running daemon (real process)', () => {
  let cp: FakeControlPlane;
  let daemon: ReturnType<typeof spawnDaemon> | undefined;
  afterEach(async () => {
    daemon?.child.kill('SIGKILL');
    await cp.stop();
  });

  it('tells the daemon (PID in runner.lock) to reload, which re-advertises', async () => {
    cp = new FakeControlPlane();
    await setup(await cp.start());
    daemon = spawnDaemon(home.configPath, {
      EMISAR_ENROLLMENT_KEY: `emkey-enroll-${'k'.repeat(43)}`,
    });
    const first = await cp.waitFrame('runner_state');
    expect(first.packs).toEqual({});
    const outcome = await installPack({ config, source: source.dir, mode: 'install' });
    expect(outcome.reloaded).toBe(daemon.child.pid);
    const second = await cp.waitFrame('runner_state', undefined, 2);
    expect(Object.keys(second.packs as object)).toEqual(['testkit']);
    await uninstallPack(config, 'testkit');
    expect((await cp.waitFrame('runner_state', undefined, 3)).packs).toEqual({});
  });
});

describe('pack suggest', () => {
  it('suggests by binaries and processes; a port alone never suggests', async () => {
    const root = join((await writeRunnerHome({ packs: [] })).home, 'candidates');
    const write = async (id: string, detect: string) => {
      await mkdir(join(root, id, 'actions'), { recursive: true });
      await writeFile(
        join(root, id, 'pack.yaml'),
        `schema_version: 1\nid: ${id}\nname: ${id}\nversion: 1.0.0\ndescription: x\ndetect:\n${detect}\nactions: [actions/a.yaml]\n`,
      );
      const action = (await readFile(join(source.dir, 'actions/sleep.yaml'), 'utf8')).replace(
        'testkit.sleep',
        `${id}.sleep`,
      );
      await writeFile(join(root, id, 'actions/a.yaml'), action);
    };
    source = await writeTestPack();
    await write('shells', '  binaries: [sh, definitely-not-a-binary]');
    await write('portonly', '  ports: [1]');
    await write('nothing', '  binaries: [definitely-not-a-binary]');
    const packs = await Promise.all(
      ['shells', 'portonly', 'nothing'].map((id) => loadPack(join(root, id))),
    );
    const facts = await readHostFacts(process.env.PATH ?? '');
    facts.listeningPorts.add(1);
    const suggestions = await suggestPacks(packs, facts);
    expect(suggestions.map((s) => s.pack)).toEqual(['shells']);
    expect(suggestions[0]!.matched.binaries).toEqual(['sh']);
  });
});
