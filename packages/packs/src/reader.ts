import type { JsonValue } from '@emisar/protocol';
import { collapseModelText, utf8Bytes } from './text.js';
import type { YamlSource } from './yaml-source.js';

type Mapping = Record<string, JsonValue>;

/**
 * Typed, strict access to one YAML mapping: unknown keys are errors, every
 * failure names the file, the line and the dotted field path.
 */
export class FieldReader {
  readonly src: YamlSource;
  readonly value: Mapping;
  readonly path: string;

  constructor(src: YamlSource, value: Mapping, path: string) {
    this.src = src;
    this.value = value;
    this.path = path;
  }

  static root(src: YamlSource): FieldReader {
    if (!isPlainMapping(src.value)) src.fail('the document must be a mapping');
    return new FieldReader(src, src.value, '');
  }

  name(key: string | number): string {
    if (typeof key === 'number') return `${this.path}[${key}]`;
    return this.path === '' ? key : `${this.path}.${key}`;
  }

  fail(key: string | undefined, reason: string): never {
    const where = key === undefined ? this.path : this.name(key);
    return this.src.fail(where === '' ? reason : `${where}: ${reason}`, this.value, key);
  }

  only(keys: readonly string[]): void {
    for (const key of Object.keys(this.value)) {
      if (!keys.includes(key)) this.fail(key, 'unknown field');
    }
  }

  has(key: string): boolean {
    return Object.hasOwn(this.value, key) && this.value[key] !== null;
  }

  raw(key: string): JsonValue | undefined {
    return this.has(key) ? this.value[key] : undefined;
  }

  string(key: string, opts: { required: true; maxBytes?: number }): string;
  string(key: string, opts?: { required?: false; maxBytes?: number }): string | undefined;
  string(key: string, opts: { required?: boolean; maxBytes?: number } = {}): string | undefined {
    const value = this.raw(key);
    if (value === undefined) {
      if (opts.required) this.fail(key, 'is required');
      return undefined;
    }
    if (typeof value !== 'string') this.fail(key, 'must be a string');
    if (opts.required && value.trim() === '') this.fail(key, 'must not be empty');
    if (opts.maxBytes !== undefined && utf8Bytes(value) > opts.maxBytes) {
      this.fail(key, `must be at most ${opts.maxBytes} bytes`);
    }
    return value;
  }

  /** Model-visible text: collapsed whitespace, no control or bidi characters. */
  text(key: string, opts: { required: true; maxBytes: number }): string;
  text(key: string, opts: { required?: false; maxBytes: number }): string | undefined;
  text(key: string, opts: { required?: boolean; maxBytes: number }): string | undefined {
    const raw = opts.required ? this.string(key, { required: true }) : this.string(key);
    if (raw === undefined) return undefined;
    return this.checkText(key, raw, opts.maxBytes);
  }

  checkText(key: string | number, raw: string, maxBytes: number): string {
    const checked = collapseModelText(raw);
    if ('error' in checked) this.fail(String(key), checked.error);
    if (checked.text === '') this.fail(String(key), 'must not be empty');
    if (utf8Bytes(checked.text) > maxBytes)
      this.fail(String(key), `must be at most ${maxBytes} bytes`);
    return checked.text;
  }

  boolean(key: string, fallback: boolean): boolean {
    const value = this.raw(key);
    if (value === undefined) return fallback;
    if (typeof value !== 'boolean') this.fail(key, 'must be true or false');
    return value;
  }

  integer(key: string): number | undefined {
    const value = this.raw(key);
    if (value === undefined) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value))
      this.fail(key, 'must be an integer');
    return value;
  }

  list(key: string, opts: { required?: boolean; min?: number; max?: number } = {}): JsonValue[] {
    const value = this.raw(key);
    if (value === undefined) {
      if (opts.required) this.fail(key, 'is required');
      return [];
    }
    if (!Array.isArray(value)) this.fail(key, 'must be a list');
    if (opts.min !== undefined && value.length < opts.min) {
      this.fail(key, `needs at least ${opts.min} entr${opts.min === 1 ? 'y' : 'ies'}`);
    }
    if (opts.max !== undefined && value.length > opts.max) {
      this.fail(key, `allows at most ${opts.max} entries`);
    }
    return value;
  }

  stringList(key: string, opts: { required?: boolean; min?: number; max?: number } = {}): string[] {
    const items = this.list(key, opts);
    return items.map((item, i) => {
      if (typeof item !== 'string')
        this.src.fail(`${this.name(key)}[${i}]: must be a string`, items, i);
      return item;
    });
  }

  child(key: string, opts: { required?: boolean } = {}): FieldReader | undefined {
    const value = this.raw(key);
    if (value === undefined) {
      if (opts.required) this.fail(key, 'is required');
      return undefined;
    }
    if (!isPlainMapping(value)) this.fail(key, 'must be a mapping');
    return new FieldReader(this.src, value, this.name(key));
  }

  /** A list of mappings, each as its own reader. */
  children(
    key: string,
    opts: { required?: boolean; min?: number; max?: number } = {},
  ): FieldReader[] {
    const items = this.list(key, opts);
    return items.map((item, i) => {
      if (!isPlainMapping(item))
        this.src.fail(`${this.name(key)}[${i}]: must be a mapping`, items, i);
      return new FieldReader(this.src, item, `${this.name(key)}[${i}]`);
    });
  }
}

export function isPlainMapping(value: JsonValue | undefined): value is Mapping {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  return Object.getPrototypeOf(value) === Object.prototype;
}
