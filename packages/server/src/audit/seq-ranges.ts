/** Inclusive `[first, last]` seqs of an account's chain. */
export type SeqRange = readonly [first: number, last: number];

/**
 * The union of two range lists, sorted, with overlapping and adjacent ranges
 * merged, so a range that covers a gap covers all of it.
 */
export function mergeSeqRanges(a: readonly SeqRange[], b: readonly SeqRange[]): SeqRange[] {
  const sorted = [...a, ...b].sort((x, y) => x[0] - y[0]);
  const merged: [number, number][] = [];
  for (const [first, last] of sorted) {
    const tail = merged.at(-1);
    if (tail && first <= tail[1] + 1) tail[1] = Math.max(tail[1], last);
    else merged.push([first, last]);
  }
  return merged;
}

/** A merged list: ascending ranges of positive seqs, apart by at least one seq. */
export function isSeqRangeList(value: unknown): value is SeqRange[] {
  if (!Array.isArray(value)) return false;
  let end = -1;
  return value.every((range) => {
    if (!Array.isArray(range) || range.length !== 2) return false;
    const [first, last] = range as unknown[];
    const ok =
      Number.isSafeInteger(first) &&
      Number.isSafeInteger(last) &&
      (first as number) > end + 1 &&
      (first as number) >= 1 &&
      (last as number) >= (first as number);
    end = last as number;
    return ok;
  });
}
