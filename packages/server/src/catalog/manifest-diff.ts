import type { JsonValue } from '@emisar/protocol';
import type { PackManifest } from './tables.js';

/** One field that differs between the trusted descriptor and a candidate's. */
export interface FieldChange {
  path: string;
  trusted: JsonValue | null;
  candidate: JsonValue | null;
}

export interface ManifestDiff {
  added: string[];
  removed: string[];
  changed: { action_id: string; changes: FieldChange[] }[];
}

const MAX_CHANGES_PER_ACTION = 200;

/** What a person trusting a candidate sees: what would execute, per action. */
export function executionView(manifest: PackManifest) {
  return Object.values(manifest)
    .sort((a, b) => a.id.localeCompare(b.id))
    .map((d) => ({
      action_id: d.id,
      title: d.title,
      risk: d.risk,
      kind: d.kind,
      execution: d.execution,
      args: d.args,
    }));
}

function flatten(value: unknown, path: string, out: Map<string, JsonValue>): void {
  if (value !== null && typeof value === 'object') {
    const entries = Array.isArray(value)
      ? value.map((v, i) => [String(i), v] as const)
      : Object.entries(value);
    if (entries.length === 0) out.set(path, Array.isArray(value) ? [] : {});
    for (const [key, member] of entries) flatten(member, path ? `${path}.${key}` : key, out);
    return;
  }
  if (value !== undefined) out.set(path, value as JsonValue);
}

/** Field-level differences of every action between the trusted manifest and a candidate. */
export function diffManifests(trusted: PackManifest | null, candidate: PackManifest): ManifestDiff {
  const base = trusted ?? {};
  const diff: ManifestDiff = {
    added: Object.keys(candidate)
      .filter((id) => !(id in base))
      .sort(),
    removed: Object.keys(base)
      .filter((id) => !(id in candidate))
      .sort(),
    changed: [],
  };
  for (const id of Object.keys(candidate).sort()) {
    if (!(id in base)) continue;
    const before = new Map<string, JsonValue>();
    const after = new Map<string, JsonValue>();
    flatten(base[id], '', before);
    flatten(candidate[id], '', after);
    const changes: FieldChange[] = [];
    for (const path of [...new Set([...before.keys(), ...after.keys()])].sort()) {
      const a = before.get(path) ?? null;
      const b = after.get(path) ?? null;
      if (JSON.stringify(a) !== JSON.stringify(b)) changes.push({ path, trusted: a, candidate: b });
    }
    if (changes.length)
      diff.changed.push({ action_id: id, changes: changes.slice(0, MAX_CHANGES_PER_ACTION) });
  }
  return diff;
}
