import { FieldReader } from './reader.js';
import { utf8Bytes } from './text.js';
import type { PackManifest, SetupEnv } from './types.js';
import type { YamlSource } from './yaml-source.js';

export const PACK_ID = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)*$/;
export const ACTION_ID = /^[a-z][a-z0-9_-]*(?:\.[a-z][a-z0-9_-]*)+$/;
export const ID_MAX_BYTES = 128;
const VERSION = /^[A-Za-z0-9][A-Za-z0-9.+-]{0,63}$/;
const DOTTED_NUMERIC = /^[0-9]+(?:\.[0-9]+)*$/;
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const MANIFEST_FIELDS = [
  'schema_version',
  'id',
  'name',
  'description',
  'version',
  'retired_below',
  'vendor',
  'homepage',
  'requires',
  'detect',
  'setup',
  'actions',
  'allow_symlinks',
] as const;

export function readSchemaVersion(r: FieldReader): 1 {
  const value = r.raw('schema_version');
  if (value === undefined) r.fail('schema_version', 'is required');
  if (value !== 1) r.fail('schema_version', 'must be 1');
  return 1;
}

/** Validates pack.yaml. Cross-file rules (setup.verify, action files) are checked by the loader. */
export function readManifest(src: YamlSource): PackManifest {
  const r: FieldReader = FieldReader.root(src);
  r.only(MANIFEST_FIELDS);
  const { schemaVersion, id, version, retiredBelow } = readIdentity(r);
  const requires = r.child('requires');
  requires?.only(['os', 'binaries']);
  const detect = r.child('detect');
  detect?.only(['binaries', 'processes', 'ports']);
  const ports = detect ? readPorts(detect) : [];
  const setup = r.child('setup');
  setup?.only(['summary', 'notes', 'env', 'verify']);
  const env = setup ? readSetupEnv(setup) : [];
  const actions = readActionFiles(r);

  const manifest: PackManifest = {
    schemaVersion,
    id,
    name: r.string('name', { required: true }),
    description: r.string('description', { required: true }),
    version,
    requires: {
      os: requires?.stringList('os') ?? [],
      binaries: requires?.stringList('binaries') ?? [],
    },
    detect: {
      binaries: detect?.stringList('binaries') ?? [],
      processes: detect?.stringList('processes') ?? [],
      ports,
    },
    setup: { notes: setup?.stringList('notes') ?? [], env },
    actions,
    allowSymlinks: r.boolean('allow_symlinks', false),
  };
  const optional = {
    retiredBelow,
    vendor: r.string('vendor'),
    homepage: r.string('homepage'),
  };
  for (const [key, value] of Object.entries(optional)) {
    if (value !== undefined) Object.assign(manifest, { [key]: value });
  }
  const summary = setup?.string('summary');
  const verify = setup?.string('verify');
  if (summary !== undefined) manifest.setup.summary = summary;
  if (verify !== undefined) manifest.setup.verify = verify;
  return manifest;
}

/** Schema version, id, version and the version below which releases are retired. */
function readIdentity(r: FieldReader): {
  schemaVersion: 1;
  id: string;
  version: string;
  retiredBelow: string | undefined;
} {
  const schemaVersion = readSchemaVersion(r);
  const id = r.string('id', { required: true });
  if (!PACK_ID.test(id) || utf8Bytes(id) > ID_MAX_BYTES) {
    r.fail('id', 'must be dot-separated segments [a-z][a-z0-9_-]*, at most 128 bytes');
  }
  const version = r.string('version', { required: true });
  if (!VERSION.test(version)) {
    r.fail('version', 'must be at most 64 characters: alphanumeric first, then [A-Za-z0-9.+-]');
  }
  const retiredBelow = r.string('retired_below');
  if (retiredBelow !== undefined && !DOTTED_NUMERIC.test(retiredBelow)) {
    r.fail('retired_below', 'must be dotted numeric, e.g. 1.4.0');
  }
  return { schemaVersion, id, version, retiredBelow };
}

/** detect.ports: TCP ports, 1 to 65535. */
function readPorts(detect: FieldReader): number[] {
  return detect.list('ports').map((port, i): number => {
    if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
      return detect.fail(`ports[${i}]`, 'must be an integer from 1 to 65535');
    }
    return port;
  });
}

/** setup.env: the environment variables the pack's setup asks the operator for. */
function readSetupEnv(setup: FieldReader): SetupEnv[] {
  return setup.children('env').map((e) => {
    e.only(['name', 'required', 'description', 'default', 'example']);
    const name = e.string('name', { required: true });
    if (!ENV_NAME.test(name)) e.fail('name', 'must match [A-Za-z_][A-Za-z0-9_]*');
    const entry: SetupEnv = { name, required: e.boolean('required', false) };
    const description = e.string('description');
    const fallback = e.string('default');
    const example = e.string('example');
    if (description !== undefined) entry.description = description;
    if (fallback !== undefined) entry.default = fallback;
    if (example !== undefined) entry.example = example;
    return entry;
  });
}

/** The action files, at least one, none listed twice. */
function readActionFiles(r: FieldReader): string[] {
  const actions = r.stringList('actions', { required: true, min: 1 });
  const seen = new Set<string>();
  actions.forEach((file, i) => {
    if (seen.has(file)) r.fail(`actions[${i}]`, `lists ${file} twice`);
    seen.add(file);
  });
  return actions;
}
