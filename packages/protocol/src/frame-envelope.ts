/**
 * Reads `type` and `request_id` from a frame the strict reader refused, so a
 * rejected run_action can still be answered by its request id. Only the top
 * level is examined; values below it are skipped without building anything,
 * so this is linear in the text and cannot be driven deep.
 */

export interface Member {
  key: string;
  /** The decoded value when it is a string, else undefined. */
  value: string | undefined;
}

/**
 * The value of field `name`, only when exactly one key equals it ignoring case,
 * that key is spelt exactly `name`, and its value is a string. Anything else is
 * ambiguous: another reader might take a different member.
 */
export function unambiguousString(members: readonly Member[], name: string): string | undefined {
  let found: string | undefined;
  let count = 0;
  for (const member of members) {
    if (member.key.toLowerCase() !== name) continue;
    count++;
    found = member.key === name ? member.value : undefined;
  }
  return count === 1 ? found : undefined;
}

export function membersOf(object: Record<string, unknown>): Member[] {
  return Object.entries(object).map(([key, value]) => ({
    key,
    value: typeof value === 'string' ? value : undefined,
  }));
}

/** The top-level members of a text that is an object at the top, or undefined if it is not readable. */
export function scanTopLevelMembers(text: string): Member[] | undefined {
  const scanner = new Scanner(text);
  try {
    return scanner.members();
  } catch (err) {
    if (err === UNREADABLE) return undefined;
    throw err;
  }
}

const UNREADABLE = Symbol('unreadable');
const ESCAPES: Record<string, string> = {
  '"': '"',
  '\\': '\\',
  '/': '/',
  b: '\b',
  f: '\f',
  n: '\n',
  r: '\r',
  t: '\t',
};

class Scanner {
  private pos = 0;

  constructor(private readonly text: string) {}

  members(): Member[] {
    const members: Member[] = [];
    this.skipWhitespace();
    this.expect('{');
    this.skipWhitespace();
    if (this.peek() === '}') this.pos++;
    else {
      for (;;) {
        this.skipWhitespace();
        const key = this.string();
        this.skipWhitespace();
        this.expect(':');
        this.skipWhitespace();
        const value = this.peek() === '"' ? this.string() : this.skipValue();
        members.push({ key, value });
        this.skipWhitespace();
        const c = this.peek();
        this.pos++;
        if (c === '}') break;
        if (c !== ',') throw UNREADABLE;
      }
    }
    this.skipWhitespace();
    if (this.pos !== this.text.length) throw UNREADABLE;
    return members;
  }

  private peek(): string | undefined {
    return this.text[this.pos];
  }

  private expect(c: string): void {
    if (this.peek() !== c) throw UNREADABLE;
    this.pos++;
  }

  private skipWhitespace(): void {
    while (/[ \t\n\r]/.test(this.peek() ?? '')) this.pos++;
  }

  private string(): string {
    this.expect('"');
    let out = '';
    for (;;) {
      const c = this.peek();
      this.pos++;
      if (c === undefined) throw UNREADABLE;
      if (c === '"') return out;
      if (c !== '\\') {
        out += c;
        continue;
      }
      const e = this.peek() ?? '';
      this.pos++;
      if (e === 'u') {
        const hex = this.text.slice(this.pos, this.pos + 4);
        if (!/^[0-9A-Fa-f]{4}$/.test(hex)) throw UNREADABLE;
        out += String.fromCharCode(Number.parseInt(hex, 16));
        this.pos += 4;
      } else if (Object.hasOwn(ESCAPES, e)) out += ESCAPES[e];
      else throw UNREADABLE;
    }
  }

  /** Skips a non-string value up to the `,` or `}` that ends it at the top level. */
  private skipValue(): undefined {
    const closers: string[] = [];
    for (;;) {
      const c = this.peek();
      if (c === undefined) throw UNREADABLE;
      if (closers.length === 0 && (c === ',' || c === '}')) return undefined;
      if (c === '"') {
        this.string();
        continue;
      }
      if (c === '{') closers.push('}');
      else if (c === '[') closers.push(']');
      else if (c === '}' || c === ']') {
        if (closers.pop() !== c) throw UNREADABLE;
      }
      this.pos++;
    }
  }
}
