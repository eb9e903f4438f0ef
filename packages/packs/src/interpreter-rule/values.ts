import { elementType, isArrayType } from '../args.js';
import { compareLiterals, literalToBigInt } from '../decimal.js';
import { formatDuration } from '../duration.js';
import type { ArgSpec } from '../types.js';

/** What load time knows about the text an arg renders to. */
export interface ArgShape {
  /** Free text, a number not bounded on both sides, or an array of those. */
  open: boolean;
  /** The rendered text can never start with `-` or `+`. */
  dashSafe: boolean;
  /** For a bounded arg: texts that stand for every rendering (all of a closed set). */
  renderings: string[];
  array: boolean;
  maxItems: number;
}

function isNegative(literal: string): boolean {
  return compareLiterals(literal, '0') < 0;
}

function renderMember(member: string | boolean | bigint, type: ArgSpec['type']): string {
  if (typeof member === 'boolean') return member ? 'true' : 'false';
  if (typeof member === 'bigint')
    return type === 'duration' ? formatDuration(member) : member.toString();
  return member;
}

/**
 * Closed sets, numbers bounded on both sides, booleans and durations are
 * bounded; anything else is open-ended. Paths (and args under path rules) are
 * absolute once validated, and numbers with a non-negative minimum carry no
 * sign, so neither can pose as an option.
 */
export function argShape(spec: ArgSpec): ArgShape {
  const type = elementType(spec.type);
  const v = spec.validation;
  const base = { array: isArrayType(spec.type), maxItems: v.maxItems };
  if (v.oneOf !== undefined) {
    const renderings = [...new Set(v.oneOf.map((m) => renderMember(m, type)))];
    return { ...base, open: false, dashSafe: false, renderings };
  }
  switch (type) {
    case 'boolean':
      return { ...base, open: false, dashSafe: true, renderings: ['true', 'false'] };
    case 'duration': {
      const low = v.minDurationNs ?? 0n;
      const high = v.maxDurationNs ?? 3_600_000_000_000n;
      return {
        ...base,
        open: false,
        dashSafe: true,
        renderings: [formatDuration(low), formatDuration(high)],
      };
    }
    case 'integer':
    case 'number': {
      const min = v.min?.literal;
      const max = v.max?.literal;
      const unsigned =
        min !== undefined &&
        (type === 'integer' ? !isNegative(min) : compareLiterals(min, '0') > 0);
      if (min === undefined || max === undefined)
        return { ...base, open: true, dashSafe: unsigned, renderings: [] };
      const shown = (literal: string) =>
        type === 'integer' ? (literalToBigInt(literal)?.toString() ?? literal) : literal;
      const renderings = [shown(min), shown(max)];
      // A number kept as written may be `-0` whenever zero is allowed.
      if (type === 'number' && !unsigned && !isNegative(max)) renderings.push('-0');
      return { ...base, open: false, dashSafe: unsigned, renderings: [...new Set(renderings)] };
    }
    default: {
      const pathRules =
        spec.type === 'path' ||
        v.allowedPaths !== undefined ||
        v.allowedPrefixes !== undefined ||
        v.deniedPaths !== undefined ||
        v.deniedPrefixes !== undefined;
      return { ...base, open: true, dashSafe: pathRules, renderings: [] };
    }
  }
}
