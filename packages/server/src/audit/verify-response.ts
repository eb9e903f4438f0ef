import type { SignedExportHead } from './export-head.js';
import { EXPORTED_EVENT_TYPE } from './query.js';
import type { SeqRange } from './seq-ranges.js';

/** Gaps a response may hold before the rest are not tracked (an honest one has one per retention range). */
export const MAX_GAPS = 10_000;
export const MAX_EVENT_TYPES = 1000;

export interface Gap {
  first: number;
  last: number;
  /** The line after the gap. */
  where: string;
}

/** The lines of one response, summed up until its head statement arrives. */
export interface Response {
  firstLine: number | null;
  firstSeq: number | null;
  last: { seq: number } | null;
  gaps: Gap[];
  gapsOverflowed: boolean;
  eventTypes: Set<string>;
  earliest: string | null;
  offChain: number;
}

export const newResponse = (): Response => ({
  firstLine: null,
  firstSeq: null,
  last: null,
  gaps: [],
  gapsOverflowed: false,
  eventTypes: new Set(),
  earliest: null,
  offChain: 0,
});

/**
 * An unfiltered response holds every seq in (after, through] but those
 * retention removed: before its first line, between lines, and after its last.
 */
export function checkComplete(
  response: Response,
  head: SignedExportHead,
  where: string,
  problem: (text: string) => void,
): void {
  const removed = head.removed_by_retention;
  const from = head.after.seq + 1;
  const to = head.through.seq;
  if (response.offChain > 0) {
    problem(`${where}: the response holds events outside the chain though it was not filtered`);
  }
  if (response.firstSeq === null || response.last === null) {
    const lost = unexplained(removed, from, to);
    if (lost) problem(`${where}: seqs ${lost} are missing, and retention did not remove them`);
    return;
  }
  if (response.firstSeq < from || response.last.seq > to) {
    problem(`${where}: the response holds seqs outside the range it covers (${from}–${to})`);
  }
  const before = unexplained(removed, from, response.firstSeq - 1);
  if (before) {
    problem(
      `${where}: seqs ${before} before the first exported seq (${response.firstSeq}) are missing, and retention did not remove them`,
    );
  }
  for (const gap of response.gaps) {
    const lost = unexplained(removed, gap.first, gap.last);
    if (lost) problem(`${gap.where}: seqs ${lost} are missing`);
  }
  if (response.gapsOverflowed) {
    problem(`${where}: more than ${MAX_GAPS} gaps, more than retention can explain`);
  }
  const after = unexplained(removed, response.last.seq + 1, to);
  if (after) {
    problem(
      `${where}: seqs ${after} after the last exported seq are missing (the signed head is seq ${head.head_seq})`,
    );
  }
}

/** A filtered response: its lines match the filter and lie in its range. */
export function checkFiltered(
  response: Response,
  head: SignedExportHead,
  where: string,
  problem: (text: string) => void,
): void {
  const { since, event_types: types } = head.filter;
  if (response.firstSeq !== null && response.firstSeq <= head.after.seq) {
    problem(`${where}: the response holds seqs before the range it covers`);
  }
  if (response.last && response.last.seq > head.through.seq) {
    problem(`${where}: the response holds seqs after the range it covers`);
  }
  const stray = types ? [...response.eventTypes].find((t) => !types.includes(t)) : undefined;
  if (stray) problem(`${where}: the response holds ${stray} events, which its filter leaves out`);
  else if (response.offChain > 0 && !types?.includes(EXPORTED_EVENT_TYPE)) {
    problem(`${where}: the response holds events outside the chain it did not ask for`);
  }
  if (since !== null && response.earliest !== null && response.earliest < since) {
    problem(`${where}: the response holds events before its since (${since})`);
  }
}

/**
 * The first stretch of `first`–`last` (as `a–b`) that the retention ranges do
 * not cover; null when they cover it all (or it is empty).
 */
function unexplained(removed: readonly SeqRange[], first: number, last: number): string | null {
  let from = first;
  for (const [a, b] of removed) {
    if (a <= from && from <= b) from = b + 1;
  }
  if (from > last) return null;
  const next = removed.find(([a]) => a > from)?.[0];
  return `${from}–${next === undefined ? last : Math.min(last, next - 1)}`;
}

/** The filter a response was made with, as the query named it. */
export function describeFilter(head: SignedExportHead): string {
  const parts: string[] = [];
  if (head.filter.event_types) parts.push(`event_type=${head.filter.event_types.join(',')}`);
  if (head.filter.since) parts.push(`since=${head.filter.since}`);
  return parts.join(', ');
}
