import { createHash } from 'node:crypto';
import { mkdir, rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hashPackFiles, loadPack, PackLoadError } from './index.js';
import {
  actionDoc,
  manifestDoc,
  type PackSpec,
  type TempDir,
  tempDir,
  writePack,
} from './test-support/fixtures.js';

let tmp: TempDir;
let n = 0;
beforeEach(async () => {
  tmp = await tempDir();
});
afterEach(async () => {
  await tmp.remove();
});

async function load(spec: PackSpec) {
  return loadPack(await writePack(path.join(tmp.path, `p${n++}`), spec));
}

async function loadError(spec: PackSpec): Promise<PackLoadError> {
  const err = await load(spec).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PackLoadError);
  return err as PackLoadError;
}

/** Loads a pack whose single action is the base action with overrides; returns the load error. */
async function actionError(overrides: Record<string, unknown>): Promise<PackLoadError> {
  return loadError({ actions: { 'actions/a.yaml': actionDoc(overrides) } });
}

const execution = (command: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  command: { binary: 'echo', argv: ['{{ args.word }}'], ...command },
  timeout: '5s',
  ...extra,
});
const output = (extra: Record<string, unknown>) => ({
  parser: 'text',
  max_stdout_bytes: 1024,
  max_stderr_bytes: 1024,
  ...extra,
});

describe('loadPack: a valid pack', () => {
  it('loads the action, its hash and pack_ref', async () => {
    const pack = await load({});
    expect(pack.id).toBe('fx');
    expect(pack.packRef).toMatch(/^fx@0\.1\.0\/sha256:[0-9a-f]{64}$/);
    expect(pack.actions.map((a) => a.id)).toEqual(['fx.echo']);
    expect(pack.actions[0]!.summary).toBe('Echo one word back.');
    expect(pack.files.map((f) => f.entry)).toEqual(['actions/echo.yaml', 'pack.yaml']);
  });

  it('collapses whitespace in model-visible text', async () => {
    const pack = await load({
      actions: {
        'actions/a.yaml': actionDoc({ description: 'Line one\n  continues.\n\nMore.\n' }),
      },
    });
    expect(pack.actions[0]!.description).toBe('Line one continues. More.');
  });
});

describe('loadPack: pack.yaml rules', () => {
  it.each([
    ['an unknown field', { colour: 'red' }, 'colour: unknown field'],
    ['schema_version 2', { schema_version: 2 }, 'schema_version: must be 1'],
    ['an upper-case id', { id: 'Fx' }, 'id: must be'],
    ['an over-long id', { id: `a${'b'.repeat(128)}` }, 'id: must be'],
    ['a version starting with a dot', { version: '.1' }, 'version: must be'],
    [
      'a non-numeric retired_below',
      { retired_below: '1.x' },
      'retired_below: must be dotted numeric',
    ],
    [
      'a port out of range',
      { detect: { ports: [70000] } },
      'ports[0]: must be an integer from 1 to 65535',
    ],
    ['no actions', { actions: [] }, 'actions: needs at least 1 entry'],
    ['a missing name', { name: undefined }, 'name: is required'],
    [
      'setup.verify naming no action',
      { setup: { verify: 'fx.nope' } },
      'setup.verify names fx.nope',
    ],
  ])('refuses %s', async (_, overrides, message) => {
    const manifest = manifestDoc(['actions/echo.yaml'], overrides as Record<string, unknown>);
    const err = await loadError({ manifest });
    expect(err.message).toContain(message);
    expect(err.file).toBe('pack.yaml');
  });

  it('names the line of the offending field', async () => {
    const err = await loadError({
      manifest:
        'schema_version: 1\nid: fx\nname: n\ndescription: d\nversion: 0.1.0\nbogus: 1\nactions: [actions/echo.yaml]\n',
    });
    expect(err.line).toBe(6);
    expect(err.message).toBe('pack.yaml:6: bogus: unknown field');
  });

  it('refuses two YAML documents, duplicate keys and aliases', async () => {
    const base = stringify(manifestDoc(['actions/echo.yaml']));
    expect((await loadError({ manifest: `${base}---\nid: other\n` })).message).toContain(
      'exactly one YAML document',
    );
    expect((await loadError({ manifest: `${base}id: again\n` })).message).toContain('unique');
    expect((await loadError({ manifest: `${base}vendor: *x\n` })).reason).toMatch(/alias/i);
  });

  it('refuses action paths that leave the pack, are absolute, or are listed twice', async () => {
    const outside = await loadError({ manifest: manifestDoc(['../escape.yaml']) });
    expect(outside.message).toContain('leaves the pack root');
    const absolute = await loadError({ manifest: manifestDoc(['/etc/passwd']) });
    expect(absolute.message).toContain('must be relative');
    const twice = await loadError({
      manifest: manifestDoc(['actions/echo.yaml', 'actions/echo.yaml']),
    });
    expect(twice.message).toContain('lists actions/echo.yaml twice');
  });

  it('refuses an action file larger than 8 MiB', async () => {
    const err = await loadError({
      actions: { 'actions/echo.yaml': `# ${'x'.repeat(8 * 1024 * 1024)}\n` },
    });
    expect(err.message).toBe('actions/echo.yaml: is larger than 8 MiB');
  });

  it('refuses a missing action file', async () => {
    const err = await loadError({ manifest: manifestDoc(['actions/missing.yaml']) });
    expect(err.file).toBe('actions/missing.yaml');
    expect(err.reason).toBe('does not exist');
  });
});

describe('loadPack: symlinks', () => {
  it('refuses a symlinked action file unless allow_symlinks, and never outside the root', async () => {
    const dir = path.join(tmp.path, 'linked');
    await writePack(dir, {
      actions: { 'real/echo.yaml': actionDoc() },
      manifest: manifestDoc(['actions/echo.yaml']),
    });
    await mkdir(path.join(dir, 'actions'));
    await symlink('../real/echo.yaml', path.join(dir, 'actions/echo.yaml'));
    await expect(loadPack(dir)).rejects.toThrow('symbolic link');

    await writeFile(
      path.join(dir, 'pack.yaml'),
      stringify(manifestDoc(['actions/echo.yaml'], { allow_symlinks: true })),
    );
    expect((await loadPack(dir)).actions).toHaveLength(1);

    const outside = path.join(tmp.path, 'outside.yaml');
    await writeFile(outside, stringify(actionDoc()));
    await rm(path.join(dir, 'actions/echo.yaml'));
    await symlink(outside, path.join(dir, 'actions/echo.yaml'));
    await expect(loadPack(dir)).rejects.toThrow('resolves outside the pack root');
  });

  it('refuses a symlinked directory on the way to an action file', async () => {
    const dir = path.join(tmp.path, 'dirlink');
    await writePack(dir, {
      actions: { 'real/echo.yaml': actionDoc() },
      manifest: manifestDoc(['actions/echo.yaml']),
    });
    await symlink('real', path.join(dir, 'actions'));
    await expect(loadPack(dir)).rejects.toThrow('passes through a symbolic link');
  });
});

describe('loadPack: action rules', () => {
  it.each<[string, Record<string, unknown>, string]>([
    ['an unknown field', { colour: 'red' }, 'colour: unknown field'],
    ['a one-segment id', { id: 'echo' }, 'id: must be at least two'],
    ['an upper-case id', { id: 'fx.Echo' }, 'id: must be'],
    ['an unknown kind', { kind: 'shell' }, 'kind: must be exec or script'],
    ['an unknown risk', { risk: 'extreme' }, 'risk: must be one of'],
    ['a title over 160 bytes', { title: 'é'.repeat(81) }, 'title: must be at most 160 bytes'],
    ['a missing description', { description: undefined }, 'description: is required'],
    [
      'a description over 4096 bytes',
      { description: 'x'.repeat(4097) },
      'description: must be at most 4096',
    ],
    [
      'a control character',
      { title: 'bell\u0007' },
      'title: contains the forbidden character U+0007',
    ],
    [
      'a bidi override',
      { description: 'safe \u202e txt.exe' },
      'contains the forbidden character U+202E',
    ],
    [
      'a summary over 512 bytes',
      { summary: 'x'.repeat(513) },
      'summary: must be at most 512 bytes',
    ],
    [
      'a first sentence over 512 bytes',
      { description: `${'word '.repeat(110)}.` },
      'summary: is required',
    ],
    ['no side effects', { side_effects: [] }, 'side_effects: needs at least 1'],
    ['17 side effects', { side_effects: Array(17).fill('x') }, 'side_effects: allows at most 16'],
    [
      'a side effect over 1024 bytes',
      { side_effects: ['x'.repeat(1025)] },
      'side_effects[0]: must be at most 1024',
    ],
    [
      '17 search terms',
      { search_terms: Array.from({ length: 17 }, (_, i) => `t${i}`) },
      'allows at most 16',
    ],
    [
      'a search term over 80 bytes',
      { search_terms: ['x'.repeat(81)] },
      'search_terms[0]: must be at most 80',
    ],
    [
      'search terms equal ignoring case',
      { search_terms: ['Disk', 'disk'] },
      'unique ignoring case',
    ],
    ['a missing output', { output: undefined }, 'output: is required'],
    [
      '17 examples',
      { examples: Array.from({ length: 17 }, () => ({ title: 't', args: { word: 'a' } })) },
      'allows at most 16',
    ],
    [
      'an example that fails validation',
      { examples: [{ title: 't', args: { word: 'UPPER' } }] },
      '(pattern)',
    ],
    [
      'an example with an unknown arg',
      { examples: [{ title: 't', args: { word: 'a', x: 1 } }] },
      'args.x',
    ],
    ['schema_version missing', { schema_version: undefined }, 'schema_version: is required'],
  ])('refuses %s', async (_, overrides, message) => {
    const err = await actionError(overrides);
    expect(err.file).toBe('actions/a.yaml');
    expect(err.message).toContain(message);
  });

  it.each<[string, unknown[], string]>([
    ['a bad arg name', [{ name: '1x', type: 'string' }], 'name: must match'],
    ['an unknown arg type', [{ name: 'x', type: 'float' }], 'type: must be one of'],
    [
      'a duplicate arg',
      [
        { name: 'x', type: 'string' },
        { name: 'x', type: 'integer' },
      ],
      'declares x twice',
    ],
    [
      'required with a default',
      [{ name: 'x', type: 'string', required: true, default: 'a' }],
      'a required arg cannot',
    ],
    [
      'enum and allowed',
      [{ name: 'x', type: 'string', validation: { enum: ['a'], allowed: ['a'] } }],
      'not both',
    ],
    [
      'an enum member of the wrong type',
      [{ name: 'x', type: 'integer', validation: { enum: ['a'] } }],
      'enum[0]',
    ],
    [
      'an invalid RE2 pattern',
      [{ name: 'x', type: 'string', validation: { pattern: '(?=a)' } }],
      'not valid RE2',
    ],
    [
      'a pattern on an integer',
      [{ name: 'x', type: 'integer', validation: { pattern: 'a' } }],
      'does not apply',
    ],
    [
      'min above max',
      [{ name: 'x', type: 'integer', validation: { min: 5, max: 1 } }],
      'min: is greater than max',
    ],
    [
      'validation on a boolean',
      [{ name: 'x', type: 'boolean', validation: { enum: [true] } }],
      'does not apply',
    ],
    [
      'max_items on a string',
      [{ name: 'x', type: 'string', validation: { max_items: 2 } }],
      'does not apply',
    ],
    [
      'a relative allowed prefix',
      [{ name: 'x', type: 'path', validation: { allowed_prefixes: ['var'] } }],
      'absolute',
    ],
    [
      'a bad duration bound',
      [{ name: 'x', type: 'duration', validation: { max_duration: 'soon' } }],
      'not a duration',
    ],
    [
      'a default failing validation',
      [{ name: 'x', type: 'integer', default: 9, validation: { max: 5 } }],
      'default',
    ],
    [
      'a string default for a boolean',
      [{ name: 'x', type: 'boolean', default: 'true' }],
      'default',
    ],
    [
      'a bidi character in a description',
      [{ name: 'x', type: 'string', description: 'a\u202eb' }],
      'U+202E',
    ],
  ])('refuses args with %s', async (_, args, message) => {
    const err = await actionError({
      args,
      execution: execution({ argv: [] }),
      examples: [],
    });
    expect(err.message).toContain(message);
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'an absolute binary other than /bin/sh',
      execution({ binary: '/usr/bin/echo' }),
      'bare program name',
    ],
    [
      'an unknown template arg',
      execution({ argv: ['{{ args.nope }}'] }),
      'args.nope, which is not declared',
    ],
    [
      'a template that is not args',
      execution({ argv: ['{{ env.HOME }}'] }),
      'only {{ args.NAME }}',
    ],
    [
      'LD_PRELOAD in env',
      execution({}, { env: { LD_PRELOAD: '/tmp/x.so' } }),
      'LD_PRELOAD: may not be set',
    ],
    [
      'DYLD_INSERT_LIBRARIES',
      execution({}, { env: { DYLD_INSERT_LIBRARIES: 'x' } }),
      'may not be set',
    ],
    ['BASH_ENV', execution({}, { env: { BASH_ENV: '/tmp/x' } }), 'BASH_ENV: may not be set'],
    ['a missing timeout', { command: { binary: 'echo', argv: [] } }, 'timeout: is required'],
    ['a zero timeout', execution({}, { timeout: '0s' }), 'timeout: must be greater than zero'],
    [
      'timeout_min above timeout',
      execution({}, { timeout_min: '1m' }),
      'timeout_min: is greater than timeout',
    ],
    [
      'timeout_max below timeout',
      execution({}, { timeout_max: '1s' }),
      'timeout_max: is less than timeout',
    ],
    ['exit code 0 as extra success', execution({}, { success_exit_codes: [0] }), 'from 1 to 255'],
    ['repeated exit codes', execution({}, { success_exit_codes: [2, 2] }), 'must be unique'],
    ['a relative cwd', execution({}, { cwd: 'tmp' }), 'cwd: must be an absolute path'],
    [
      'a script block on exec',
      execution({}, { script: { path: 'x.sh' } }),
      'script: is only for kind: script',
    ],
  ])('refuses execution with %s', async (_, exec, message) => {
    const err = await actionError({ execution: exec });
    expect(err.message).toContain(message);
  });

  it('refuses alone an action whose free string reaches shell program text; env and positional args pass', async () => {
    const shell = (argv: string[], extra: Record<string, unknown> = {}) =>
      actionDoc({ execution: { command: { binary: 'sh', argv }, timeout: '5s', ...extra } });
    const embedded = await load({
      actions: { 'actions/a.yaml': shell(['-c', 'echo {{ args.word }}']) },
    });
    expect(embedded.hash).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(embedded.actions).toEqual([]);
    expect(embedded.refusedActions).toMatchObject([
      {
        id: 'fx.echo',
        file: 'actions/a.yaml',
        refusals: [{ rule: 'interpreter' }],
        action: { id: 'fx.echo' },
      },
    ]);
    expect(embedded.refusedActions[0]!.reason).toContain(
      'argument word (open-ended) is spliced into argv[1], which reaches sh as program text',
    );
    const cluster = await load({
      actions: { 'actions/a.yaml': shell(['-ec', 'echo {{ args.word }}']) },
    });
    expect(cluster.refusedActions[0]!.reason).toContain('argument word (open-ended)');
    const viaEnv = await load({
      actions: {
        'actions/a.yaml': shell(['-c', 'echo "$WORD"'], { env: { WORD: '{{ args.word }}' } }),
      },
    });
    expect(viaEnv.actions[0]!.execution.env).toEqual({ WORD: '{{ args.word }}' });
    const positional = await load({
      actions: { 'actions/a.yaml': shell(['-c', 'echo "$1"', 'sh', '{{ args.word }}']) },
    });
    expect(positional.actions).toHaveLength(1);
  });

  it('allows enums, bounded numbers, booleans and durations in shell program text', async () => {
    const pack = await load({
      actions: {
        'actions/a.yaml': actionDoc({
          args: [
            { name: 'mode', type: 'string', default: 'a', validation: { enum: ['a', 'b'] } },
            { name: 'n', type: 'integer', default: 1, validation: { min: 1, max: 9 } },
            { name: 'on', type: 'boolean', default: true },
            { name: 'wait', type: 'duration', default: '1s' },
          ],
          execution: {
            command: {
              binary: '/bin/sh',
              argv: ['-c', 'echo {{ args.mode }} {{ args.n }} {{ args.on }} {{ args.wait }}'],
            },
            timeout: '5s',
          },
          examples: [],
        }),
      },
    });
    expect(pack.actions).toHaveLength(1);
    const unbounded = await load({
      actions: {
        'actions/a.yaml': actionDoc({
          args: [{ name: 'n', type: 'integer', default: 1, validation: { min: 1 } }],
          execution: {
            command: { binary: 'bash', argv: ['-c', 'head -n {{ args.n }}'] },
            timeout: '5s',
          },
          examples: [],
        }),
      },
    });
    expect(unbounded.refusedActions[0]!.reason).toContain('argument n (open-ended)');
  });

  it('refuses an array arg spliced into a larger argv element', async () => {
    const err = await actionError({
      args: [{ name: 'tags', type: 'string_array', default: [] }],
      execution: execution({ argv: ['--tags={{ args.tags }}'] }),
      examples: [],
    });
    expect(err.message).toContain('must be a whole argv element');
  });

  it.each<[string, Record<string, unknown>, string]>([
    [
      'a zero stdout cap',
      output({ max_stdout_bytes: 0 }),
      'max_stdout_bytes: must be greater than zero',
    ],
    [
      'a missing stderr cap',
      { parser: 'text', max_stdout_bytes: 1 },
      'max_stderr_bytes: is required',
    ],
    [
      'min above max',
      output({ max_stdout_bytes_min: 2048, max_stdout_bytes_max: 1024 }),
      'is greater than',
    ],
    [
      'a default outside its bounds',
      output({ max_stdout_bytes_min: 2000, max_stdout_bytes_max: 4000 }),
      'must lie within',
    ],
    ['an unknown parser', output({ parser: 'xml' }), 'parser: must be text or json'],
    [
      'a schema without parser_required',
      output({ parser: 'json', schema: { type: 'object' } }),
      'needs parser: json',
    ],
    [
      'a schema whose root is not an object',
      output({ parser: 'json', parser_required: true, schema: { type: 'array' } }),
      'root must declare type: object',
    ],
    [
      'a banned schema keyword',
      output({
        parser: 'json',
        parser_required: true,
        schema: { type: 'object', $id: 'https://x' },
      }),
      'banned keyword $id',
    ],
    [
      'a remote $ref',
      output({
        parser: 'json',
        parser_required: true,
        schema: { type: 'object', properties: { a: { $ref: 'https://x/s.json' } } },
      }),
      '$ref may only point to #/$defs/',
    ],
    [
      'a fractional multipleOf',
      output({
        parser: 'json',
        parser_required: true,
        schema: { type: 'object', multipleOf: 0.5 },
      }),
      'multipleOf must be a positive integer',
    ],
    [
      'a redaction rule without a name',
      output({ redact: [{ type: 'literal', literal: 'x' }] }),
      'name: is required',
    ],
    [
      'an unknown redaction type',
      output({ redact: [{ name: 'r', type: 'glob', pattern: 'x' }] }),
      'must be regex',
    ],
    [
      'an invalid redaction regex',
      output({ redact: [{ name: 'r', type: 'regex', pattern: '(' }] }),
      'not valid RE2',
    ],
    [
      'a rule borrowing a built-in name',
      output({ redact: [{ name: 'jwt', type: 'literal', literal: 'x' }] }),
      'jwt is the name of a built-in rule',
    ],
  ])('refuses output with %s', async (_, out, message) => {
    const err = await actionError({ output: out });
    expect(err.message).toContain(message);
  });

  it('accepts schema numbers a float64 holds exactly and refuses those it cannot', async () => {
    const schema = (maximum: string) =>
      `{type: object, properties: {ratio: {type: number, minimum: 0.5, maximum: ${maximum}}}}`;
    const withSchema = (maximum: string) =>
      stringify(
        actionDoc({ output: output({ parser: 'json', parser_required: true, schema: 'SCHEMA' }) }),
      ).replace('SCHEMA', schema(maximum));
    const ok = await load({ actions: { 'actions/a.yaml': withSchema('1.25') } });
    expect(ok.actions[0]!.output.schema).toBeDefined();
    const err = await loadError({
      actions: { 'actions/a.yaml': withSchema('0.1000000000000000000001') },
    });
    expect(err.message).toContain('a float64 cannot hold exactly');
  });

  it('refuses a schema nested too deep', async () => {
    let schema: Record<string, unknown> = { type: 'string' };
    for (let i = 0; i < 17; i++) schema = { type: 'object', properties: { a: schema } };
    const err = await actionError({
      output: output({ parser: 'json', parser_required: true, schema }),
    });
    expect(err.message).toContain('nests deeper than 16');
  });

  it('refuses, without failing the pack, an action whose redaction rule can match a newline', async () => {
    const pack = await load({
      actions: {
        'actions/a.yaml': actionDoc({
          id: 'fx.a',
          output: output({ redact: [{ name: 'ml', type: 'regex', pattern: 'a\\sb' }] }),
        }),
        'actions/b.yaml': actionDoc({
          id: 'fx.b',
          output: output({ redact: [{ name: 'dot', type: 'regex', pattern: '(?s)k.v' }] }),
        }),
        'actions/c.yaml': actionDoc({
          id: 'fx.c',
          output: output({ redact: [{ name: 'neg', type: 'regex', pattern: 'k=[^,]+' }] }),
        }),
        'actions/d.yaml': actionDoc({
          id: 'fx.d',
          output: output({
            redact: [{ name: 'ok', type: 'regex', pattern: '(?i)(pass=)[^,\\s]+' }],
          }),
        }),
      },
    });
    expect(pack.actions.map((a) => a.id)).toEqual(['fx.d']);
    expect(pack.refusedActions.map((a) => a.id)).toEqual(['fx.a', 'fx.b', 'fx.c']);
    expect(pack.refusedActions[0]!.reason).toContain('can match a newline');
  });

  it('refuses two actions with one id inside a pack', async () => {
    const err = await loadError({
      actions: { 'actions/a.yaml': actionDoc(), 'actions/b.yaml': actionDoc() },
    });
    expect(err.message).toContain('action id fx.echo is already declared in actions/a.yaml');
  });
});

describe('loadPack: scripts', () => {
  const scriptAction = (scriptPath: string) =>
    actionDoc({
      kind: 'script',
      execution: {
        script: { path: scriptPath, interpreter: '/bin/bash' },
        argv: ['{{ args.word }}'],
        timeout: '5s',
      },
    });

  it('hashes the script under its path as written and records its SHA-256', async () => {
    const pack = await load({
      actions: { 'actions/a.yaml': scriptAction('scripts/run.sh') },
      files: { 'scripts/run.sh': 'echo "$1"\n' },
    });
    const script = pack.actions[0]!.execution.script!;
    expect(script.sha256).toBe(createHash('sha256').update('echo "$1"\n').digest('hex'));
    expect(script.absolutePath).toBe(path.join(pack.dir, 'scripts/run.sh'));
    expect(pack.files.map((f) => f.entry)).toEqual([
      'actions/a.yaml',
      'pack.yaml',
      'scripts/run.sh',
    ]);
  });

  it('refuses a script outside the pack', async () => {
    const err = await loadError({ actions: { 'actions/a.yaml': scriptAction('../run.sh') } });
    expect(err.message).toContain('execution.script.path leaves the pack root');
  });
});

describe('hashPackFiles', () => {
  it('matches the load hash, changes when a hashed file changes or goes, not when a file is added', async () => {
    const dir = await writePack(path.join(tmp.path, 'h'), {});
    const pack = await loadPack(dir);
    expect(await hashPackFiles(pack)).toBe(pack.hash);
    await writeFile(path.join(dir, 'README.md'), 'not hashed');
    expect(await hashPackFiles(pack)).toBe(pack.hash);
    await writeFile(
      path.join(dir, 'actions/echo.yaml'),
      stringify(actionDoc({ title: 'Echo, changed' })),
    );
    const changed = await hashPackFiles(pack);
    expect(changed).not.toBe(pack.hash);
    expect(changed).toBe((await loadPack(dir)).hash);
    await rm(path.join(dir, 'actions/echo.yaml'));
    const deleted = await hashPackFiles(pack);
    expect(deleted).not.toBe(pack.hash);
    expect(deleted).not.toBe(changed);
  });
});
