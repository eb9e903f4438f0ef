import { ExactNumber, type JsonValue } from '@emisar/protocol';
import { isMap, isScalar, isSeq, LineCounter, type Node, parseAllDocuments } from 'yaml';
import { PackLoadError } from './errors.js';

/**
 * One YAML file read strictly into JSON values: exactly one document, no
 * duplicate keys, no aliases or custom tags, string keys only. Numbers that a
 * float64 cannot hold as written become ExactNumber. Remembers where every
 * object member and array item came from so load errors can name a line.
 */
export class YamlSource {
  readonly file: string;
  readonly value: JsonValue;
  readonly #lines: LineCounter;
  readonly #offsets = new WeakMap<
    object,
    { self: number; members: Map<string | number, number> }
  >();

  constructor(file: string, text: string) {
    this.file = file;
    this.#lines = new LineCounter();
    const docs = parseAllDocuments(text, {
      lineCounter: this.#lines,
      uniqueKeys: true,
      merge: false,
      prettyErrors: false,
      schema: 'core',
    });
    if (!Array.isArray(docs)) throw new PackLoadError(file, 'empty YAML file');
    if (docs.length !== 1) {
      throw new PackLoadError(file, `expected exactly one YAML document, found ${docs.length}`);
    }
    const doc = docs[0]!;
    const problem = doc.errors[0] ?? doc.warnings[0];
    if (problem !== undefined) {
      throw new PackLoadError(file, problem.message.split('\n')[0]!, this.lineAt(problem.pos[0]));
    }
    if (doc.contents === null) throw new PackLoadError(file, 'empty YAML document');
    this.value = this.#convert(doc.contents as Node);
  }

  /** 1-based line of a member (or of the container itself when key is omitted). */
  line(container: object, key?: string | number): number | undefined {
    const at = this.#offsets.get(container);
    if (at === undefined) return undefined;
    const offset = key === undefined ? at.self : (at.members.get(key) ?? at.self);
    return this.lineAt(offset);
  }

  fail(reason: string, container?: object, key?: string | number): never {
    throw new PackLoadError(
      this.file,
      reason,
      container === undefined ? undefined : this.line(container, key),
    );
  }

  private lineAt(offset: number): number {
    return this.#lines.linePos(offset).line;
  }

  #convert(node: Node): JsonValue {
    const offset = node.range?.[0] ?? 0;
    if (node.tag !== undefined && !node.tag.startsWith('tag:yaml.org,2002:')) {
      throw new PackLoadError(
        this.file,
        `custom tag ${node.tag} is not allowed`,
        this.lineAt(offset),
      );
    }
    if (isMap(node)) {
      const out: Record<string, JsonValue> = Object.create(null);
      const members = new Map<string | number, number>();
      for (const pair of node.items) {
        const key = pair.key as Node | null;
        if (!isScalar(key) || typeof key.value !== 'string') {
          throw new PackLoadError(
            this.file,
            'mapping keys must be strings',
            this.lineAt(key?.range?.[0] ?? offset),
          );
        }
        members.set(key.value, key.range?.[0] ?? offset);
        out[key.value] = pair.value === null ? null : this.#convert(pair.value as Node);
      }
      // A null-prototype object keeps `__proto__` an ordinary key; hand out a plain one.
      const plain = Object.fromEntries(Object.entries(out));
      this.#offsets.set(plain, { self: offset, members });
      return plain;
    }
    if (isSeq(node)) {
      const members = new Map<string | number, number>();
      const out = node.items.map((item, i) => {
        const child = item as Node | null;
        members.set(i, child?.range?.[0] ?? offset);
        return child === null ? null : this.#convert(child);
      });
      this.#offsets.set(out, { self: offset, members });
      return out;
    }
    if (isScalar(node)) return this.#scalar(node.value, node.source, offset);
    throw new PackLoadError(this.file, 'aliases are not allowed', this.lineAt(offset));
  }

  #scalar(value: unknown, source: string | undefined, offset: number): JsonValue {
    if (value === null || typeof value === 'string' || typeof value === 'boolean') return value;
    if (typeof value === 'number') {
      if (!Number.isFinite(value)) {
        throw new PackLoadError(this.file, 'numbers must be finite', this.lineAt(offset));
      }
      if (Number.isSafeInteger(value)) return value;
      // Keep non-integers and big integers exactly as written when that is JSON.
      try {
        return new ExactNumber(source ?? String(value));
      } catch {
        return value;
      }
    }
    throw new PackLoadError(
      this.file,
      `unsupported YAML value ${String(value)}`,
      this.lineAt(offset),
    );
  }
}
