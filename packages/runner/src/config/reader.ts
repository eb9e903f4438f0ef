import { parseConfigDuration } from './duration.js';

/** A config problem: the CLI prints the message on one line and exits 2. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

export type Json = Record<string, unknown>;

/** Walks the parsed YAML, refusing unknown keys and wrong types with the key's dotted path. */
export class Reader {
  constructor(private readonly where: string) {}

  section(root: Json, key: string, allowed: readonly string[]): Json {
    const value = root[key];
    if (value === undefined || value === null) return {};
    if (typeof value !== 'object' || Array.isArray(value)) this.fail(key, 'must be a mapping');
    const section = value as Json;
    for (const name of Object.keys(section)) {
      if (!allowed.includes(name)) this.fail(`${key}.${name}`, 'is not a known key');
    }
    return section;
  }

  string(obj: Json, key: string, name: string): string | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'string' || value.length === 0)
      this.fail(name, 'must be a non-empty string');
    return value;
  }

  bool(obj: Json, key: string, name: string): boolean | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'boolean') this.fail(name, 'must be true or false');
    return value;
  }

  int(obj: Json, key: string, name: string, min: number, max: number): number | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) {
      this.fail(name, `must be an integer in [${min}, ${max}]`);
    }
    return value;
  }

  duration(obj: Json, key: string, name: string): number | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    const ms = parseConfigDuration(value);
    if (ms === undefined) this.fail(name, 'must be a duration such as 30s, 1m or 250ms');
    return ms;
  }

  strings(obj: Json, key: string, name: string): string[] | undefined {
    const value = obj[key];
    if (value === undefined || value === null) return undefined;
    if (!Array.isArray(value) || value.some((item) => typeof item !== 'string' || !item)) {
      this.fail(name, 'must be a list of non-empty strings');
    }
    return value as string[];
  }

  fail(name: string, problem: string): never {
    throw new ConfigError(`${this.where}: ${name} ${problem}`);
  }
}
