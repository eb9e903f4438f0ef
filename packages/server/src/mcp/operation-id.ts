import { createHash } from 'node:crypto';
import { canonicalJson, type JsonValue } from '@emisar/protocol';
import { invalidArgs } from './inputs.js';

const CROCKFORD = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';
export const OPERATION_ID = /^op_[0-9A-HJKMNP-TV-Z]{26}$/;
/** A deliberate repeat after this long is a new operation; a retry within it is the same one. */
const BUCKET_MS = 2 * 60_000;

/**
 * The operation id of a `run_action` call: the client's `Emisar-Operation-Id`
 * when it sent one, else derived from the account, the credential lineage,
 * the exact arguments and the 2-minute time bucket.
 */
export function operationIdFor(input: {
  header: string | undefined;
  accountId: string;
  lineageId: string;
  args: JsonValue;
  now: Date;
}): string {
  if (input.header !== undefined) {
    if (!OPERATION_ID.test(input.header)) {
      throw invalidArgs('tool_call', [{ path: '$.headers.emisar-operation-id', code: 'format' }]);
    }
    return input.header;
  }
  const bucket = Math.floor(input.now.getTime() / BUCKET_MS);
  const digest = createHash('sha256')
    .update(`${input.accountId}\n${input.lineageId}\n${bucket}\n${canonicalJson(input.args)}`)
    .digest();
  return `op_${crockford(digest.subarray(0, 17)).slice(0, 26)}`;
}

function crockford(bytes: Uint8Array): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += CROCKFORD[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}
