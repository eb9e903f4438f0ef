import { isJsonObject, type JsonObject, parseStrictJson } from '@emisar/protocol';
import {
  type AuditEventBody,
  EXPORTED_FIELD_KINDS,
  EXPORTED_FIELDS,
  type ExportedField,
} from './chain.js';
import { EXPORT_HEAD_TYPE, parseExportHead, type SignedExportHead } from './export-head.js';

const HEX64 = /^[0-9a-f]{64}$/;

const FIELD_CHECKS: Record<
  (typeof EXPORTED_FIELD_KINDS)[ExportedField],
  (value: unknown) => boolean
> = {
  seq: (v) => v === null || (typeof v === 'number' && Number.isSafeInteger(v) && v > 0),
  text: (v) => typeof v === 'string',
  'text?': (v) => v === null || typeof v === 'string',
  'boolean?': (v) => v === null || typeof v === 'boolean',
  object: (v) => isJsonObject(v),
  hash: (v) => typeof v === 'string' && HEX64.test(v),
  'hash?': (v) => v === null || (typeof v === 'string' && HEX64.test(v)),
};

export type ParsedEvent = AuditEventBody & { hash: string };

/** The event or head statement on one line, or what is wrong with it. */
export function parseLine(
  raw: string,
): { kind: 'event'; event: ParsedEvent } | { kind: 'head'; head: SignedExportHead } | string {
  let value: unknown;
  try {
    value = parseStrictJson(raw);
  } catch (error) {
    return `not JSON (${(error as Error).message})`;
  }
  if (!isJsonObject(value)) return 'not a JSON object';
  if (Object.hasOwn(value, 'type')) {
    if (value.type !== EXPORT_HEAD_TYPE) return 'neither an event nor a head statement';
    const head = parseExportHead(value);
    return typeof head === 'string' ? `head statement: ${head}` : { kind: 'head', head };
  }
  const unknown = Object.keys(value).find((k) => !Object.hasOwn(EXPORTED_FIELD_KINDS, k));
  if (unknown) return `unexpected field "${unknown.slice(0, 40)}"`;
  for (const field of EXPORTED_FIELDS) {
    if (!Object.hasOwn(value, field)) return `missing field "${field}"`;
    if (!FIELD_CHECKS[EXPORTED_FIELD_KINDS[field]](value[field])) {
      return `${field} is not ${EXPORTED_FIELD_KINDS[field]}`;
    }
  }
  return { kind: 'event', event: value as unknown as ParsedEvent & { payload: JsonObject } };
}
