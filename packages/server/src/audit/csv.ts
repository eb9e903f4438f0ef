import { type JsonValue, parseStrictJson, stringifyJson } from '@emisar/protocol';
import { EXPORTED_FIELDS } from './chain.js';

/** A spreadsheet would run a cell starting with one of these as a formula. */
const FORMULA_START = /^[=+\-@\t\r\n]/;
const NEEDS_QUOTES = /[",\r\n]/;

/**
 * One CSV cell: null is empty, objects are JSON, and text a spreadsheet would
 * evaluate gets a leading apostrophe, so it is shown rather than run.
 */
export function csvCell(value: JsonValue): string {
  let text = value === null ? '' : typeof value === 'object' ? stringifyJson(value) : String(value);
  if (FORMULA_START.test(text)) text = `'${text}`;
  return NEEDS_QUOTES.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

/**
 * The CSV twin of an NDJSON export (RFC 4180: CRLF, quoted where needed, a
 * UTF-8 byte order mark so spreadsheets read it as UTF-8): the same columns,
 * chunk for chunk, so it streams with the same constant memory.
 */
export async function* csvFromNdjson(
  chunks: AsyncIterable<string> | Iterable<string>,
): AsyncGenerator<string, void> {
  yield `\uFEFF${EXPORTED_FIELDS.join(',')}\r\n`;
  for await (const chunk of chunks) {
    let out = '';
    for (const line of chunk.split('\n')) {
      if (line === '') continue;
      const event = parseStrictJson(line) as Record<string, JsonValue>;
      out += `${EXPORTED_FIELDS.map((field) => csvCell(event[field] ?? null)).join(',')}\r\n`;
    }
    yield out;
  }
}
