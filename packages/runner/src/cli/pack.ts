import { discoverPacks, loadPack } from '@emisar/packs';
import type { Command } from 'commander';
import { findExecutable } from '../exec/executable.js';
import { errorMessage } from '../fs-util.js';
import { CliError, configFor, globals, print, printJson } from './common.js';

export function registerPackCommands(program: Command): void {
  const pack = program.command('pack').description('action packs');

  pack
    .command('validate')
    .description('run the full loader on a pack directory')
    .argument('<path>')
    .action(async (path: string, _opts: unknown, command: Command) => {
      let loaded: Awaited<ReturnType<typeof loadPack>>;
      try {
        loaded = await loadPack(path);
      } catch (error) {
        throw new CliError(`pack ${path} is invalid: ${errorMessage(error)}`);
      }
      if (globals(command).json) {
        return printJson({
          id: loaded.id,
          version: loaded.version,
          hash: loaded.hash,
          pack_ref: loaded.packRef,
          actions: loaded.actions.map((a) => a.id),
        });
      }
      print(`pack ${loaded.id} OK: ${loaded.actions.length} actions`);
      print(`hash: ${loaded.hash}`);
      for (const refused of loaded.refusedActions)
        print(`refused action ${refused.id}: ${refused.reason}`);
    });

  pack
    .command('list')
    .description('installed packs')
    .action(async (_opts: unknown, command: Command) => {
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
    });

  pack
    .command('info')
    .description(
      'setup notes, required binaries vs PATH, env vars missing from inherit_env, verify action',
    )
    .argument('<id>')
    .action(async (id: string, _opts: unknown, command: Command) => {
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
        print(`verify with: emisar action run ${info.verify} --reason "verify setup"`);
      for (const a of info.actions) print(`action ${a.id} [${a.risk}] ${a.title}`);
    });
}
