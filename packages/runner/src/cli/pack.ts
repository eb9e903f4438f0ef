import { discoverPacks, loadPack } from '@emisar/packs';
import type { Command } from 'commander';
import { findExecutable } from '../exec/executable.js';
import { errorMessage } from '../fs-util.js';
import { installPack, installRoot, uninstallPack } from '../packs-admin/install.js';
import { readHostFacts, suggestPacks } from '../packs-admin/suggest.js';
import { CliError, configFor, globals, print, printJson } from './common.js';

export function registerPackCommands(program: Command): void {
  const pack = program.command('pack').description('action packs');

  pack
    .command('validate')
    .description('run the full loader on a pack directory')
    .argument('<path>')
    .action(validatePack);

  pack.command('list').description('installed packs').action(listPacks);

  pack
    .command('info')
    .description(
      'setup notes, required binaries vs PATH, env vars missing from inherit_env, verify action',
    )
    .argument('<id>')
    .action(showPackInfo);

  for (const mode of ['install', 'update'] as const) {
    pack
      .command(mode)
      .description(
        `${mode} a pack from a directory, a .tar.gz or an https URL (URLs need --hash); swaps it in atomically and reloads the daemon`,
      )
      .argument('<source>')
      .option('--hash <sha256:hex>', 'refuse unless the pack hashes to exactly this')
      .action(async (source: string, opts: { hash?: string }, command: Command) => {
        const config = await configFor(command);
        const outcome = await installPack({ config, source, expectedHash: opts.hash, mode }).catch(
          (error) => {
            throw new CliError(errorMessage(error));
          },
        );
        const info = {
          id: outcome.pack.id,
          version: outcome.pack.version,
          hash: outcome.pack.hash,
          dir: outcome.dir,
          replaced: outcome.replaced,
          reloaded_pid: outcome.reloaded ?? null,
        };
        if (globals(command).json) return printJson(info);
        print(
          `${mode === 'install' ? 'installed' : 'updated'} ${info.id}@${info.version} in ${info.dir}`,
        );
        print(`hash: ${info.hash}`);
        print(
          info.reloaded_pid
            ? `daemon (pid ${info.reloaded_pid}) told to reload`
            : 'no daemon running',
        );
      });
  }

  pack
    .command('uninstall')
    .description('remove an installed pack and reload the daemon')
    .argument('<id>')
    .action(removeInstalledPack);

  pack
    .command('suggest')
    .description("match this host's binaries, processes and ports against packs' detect rules")
    .option('--from <dir>', 'packs to consider (default: the configured packs paths)')
    .action(suggestForHost);
}

async function validatePack(path: string, _opts: unknown, command: Command): Promise<void> {
  let loaded: Awaited<ReturnType<typeof loadPack>>;
  try {
    loaded = await loadPack(path);
  } catch (error) {
    throw new CliError(`pack ${path} is invalid: ${errorMessage(error)}`);
  }
  const refused = loaded.refusedActions;
  if (globals(command).json) {
    printJson({
      id: loaded.id,
      version: loaded.version,
      hash: loaded.hash,
      pack_ref: loaded.packRef,
      actions: loaded.actions.map((a) => a.id),
      refused_actions: refused.map((a) => ({ id: a.id, file: a.file, reason: a.reason })),
    });
  } else {
    const verdict = refused.length === 0 ? 'OK' : 'loaded with refused actions';
    print(`pack ${loaded.id} ${verdict}: ${loaded.actions.length} actions`);
    print(`hash: ${loaded.hash}`);
    for (const action of refused) print(`refused action ${action.id}: ${action.reason}`);
  }
  // A refused action never runs on any host: the pack is not valid as written.
  if (refused.length > 0)
    throw new CliError(`pack ${loaded.id}: ${refused.length} action(s) refused`);
}

async function listPacks(_opts: unknown, command: Command): Promise<void> {
  const config = await configFor(command);
  const { packs, degraded } = await discoverPacks(config.paths.packs);
  const rows = packs.map((p) => ({
    id: p.id,
    version: p.version,
    hash: p.hash,
    dir: p.dir,
    actions: p.actions.length,
  }));
  if (globals(command).json) return printJson({ packs: rows, degraded_packs: degraded });
  for (const row of rows)
    print(`${row.id}@${row.version}  ${row.actions} actions  ${row.hash}  ${row.dir}`);
  for (const d of degraded) print(`degraded ${d.pack}: ${d.reason}`);
}

async function showPackInfo(id: string, _opts: unknown, command: Command): Promise<void> {
  const config = await configFor(command);
  const { packs } = await discoverPacks(config.paths.packs);
  const found = packs.find((p) => p.id === id);
  if (!found) throw new CliError(`no installed pack ${id}`);
  const { manifest } = found;
  const binaries = [];
  for (const binary of manifest.requires.binaries) {
    binaries.push({
      binary,
      found: (await findExecutable(binary, process.env.PATH ?? '')) ?? null,
    });
  }
  const env = manifest.setup.env.map((e) => ({
    ...e,
    inherited: config.execution.inheritEnv.includes(e.name),
    set: process.env[e.name] !== undefined,
  }));
  const info = {
    id: found.id,
    version: found.version,
    pack_ref: found.packRef,
    dir: found.dir,
    summary: manifest.setup.summary ?? null,
    notes: manifest.setup.notes,
    binaries,
    env,
    verify: manifest.setup.verify ?? null,
    actions: found.actions.map((a) => ({ id: a.id, risk: a.risk, title: a.title })),
  };
  if (globals(command).json) return printJson(info);
  print(`${info.id}@${info.version}  (${info.pack_ref})`);
  if (info.summary) print(info.summary);
  for (const note of info.notes) print(`  - ${note}`);
  for (const b of binaries) print(`binary ${b.binary}: ${b.found ?? 'NOT FOUND on PATH'}`);
  for (const e of env) {
    const problem = e.inherited
      ? ''
      : `  (not in execution.inherit_env${e.required ? ', REQUIRED' : ''})`;
    print(`env ${e.name}${problem}`);
  }
  if (info.verify)
    print(`verify with: emisar action run ${info.verify} --reason "verify the pack setup"`);
  for (const a of info.actions) print(`action ${a.id} [${a.risk}] ${a.title}`);
}

async function removeInstalledPack(id: string, _opts: unknown, command: Command): Promise<void> {
  const config = await configFor(command);
  const outcome = await uninstallPack(config, id).catch((error) => {
    throw new CliError(errorMessage(error));
  });
  if (globals(command).json)
    return printJson({ id, dir: outcome.dir, reloaded_pid: outcome.reloaded ?? null });
  print(`removed ${id} from ${outcome.dir}`);
  print(outcome.reloaded ? `daemon (pid ${outcome.reloaded}) told to reload` : 'no daemon running');
}

async function suggestForHost(opts: { from?: string }, command: Command): Promise<void> {
  const config = await configFor(command);
  const { packs } = await discoverPacks(opts.from ? [opts.from] : config.paths.packs);
  const suggestions = await suggestPacks(packs, await readHostFacts(process.env.PATH ?? ''));
  if (globals(command).json) return printJson({ suggestions, install_dir: installRoot(config) });
  if (suggestions.length === 0) print('no pack matches this host');
  for (const s of suggestions) {
    const why = [
      ...s.matched.binaries.map((b) => `binary ${b}`),
      ...s.matched.processes.map((p) => `process ${p}`),
      ...s.matched.ports.map((p) => `port ${p}`),
    ].join(', ');
    print(`${s.pack}@${s.version}  score ${s.score}  (${why})  ${s.dir}`);
  }
}
