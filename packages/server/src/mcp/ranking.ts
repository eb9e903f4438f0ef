import type { ActionDescriptor } from '@emisar/protocol';

/** How a candidate matched: the lane decides rank first, the score within a lane. */
export interface Match {
  lane: number;
  score: number;
  fields: string[];
}

const LANE = { exactId: 5, idSegment: 4, exactTitle: 3, fullText: 2, fuzzy: 1 } as const;
const STOP_WORDS = new Set(
  'a an and are as at be by do for from how i in is it me my of on or the to what which with'.split(
    ' ',
  ),
);
const FIELD_WEIGHT = { id: 3, title: 3, search_terms: 3, summary: 2, description: 1 } as const;
/** The least trigram similarity a fuzzy match needs: below it, nothing is closer than noise. */
const FUZZY_FLOOR = 0.45;

const words = (text: string) => text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];

/**
 * Where `query` places an action, or null when it does not match well enough:
 * exact id; id prefix or segment; exact title or search term; weighted full
 * text; fuzzy (trigram). Risk and availability never change the rank.
 */
export function rankAction(query: string, action: ActionDescriptor): Match | null {
  const q = query.trim().toLowerCase();
  const id = action.id.toLowerCase();
  if (q === id) return { lane: LANE.exactId, score: 1, fields: ['action_id'] };
  const segments = id.split(/[._-]/);
  if (id.startsWith(q) || segments.includes(q)) {
    return { lane: LANE.idSegment, score: q.length / id.length, fields: ['action_id'] };
  }
  const title = action.title.toLowerCase();
  const term = action.search_terms.find((t) => t.toLowerCase() === q);
  if (title === q || term !== undefined) {
    return { lane: LANE.exactTitle, score: 1, fields: [title === q ? 'title' : 'search_terms'] };
  }
  return fullText(q, action, segments) ?? fuzzy(q, [id, title, ...action.search_terms]);
}

function fullText(q: string, action: ActionDescriptor, segments: string[]): Match | null {
  const tokens = [...new Set(words(q).filter((w) => w.length > 1 && !STOP_WORDS.has(w)))];
  if (tokens.length === 0) return null;
  const fields: Record<keyof typeof FIELD_WEIGHT, Set<string>> = {
    id: new Set(segments),
    title: new Set(words(action.title)),
    search_terms: new Set(action.search_terms.flatMap(words)),
    summary: new Set(words(action.summary)),
    description: new Set(words(action.description)),
  };
  let score = 0;
  let matched = 0;
  let strong = false;
  const hitFields = new Set<string>();
  for (const token of tokens) {
    let hit = false;
    for (const [name, set] of Object.entries(fields) as [
      keyof typeof FIELD_WEIGHT,
      Set<string>,
    ][]) {
      if (!set.has(token)) continue;
      hit = true;
      score += FIELD_WEIGHT[name];
      hitFields.add(name === 'id' ? 'action_id' : name);
      if (name !== 'description') strong = true;
    }
    if (hit) matched++;
  }
  // The relevance floor: most of the query must match, and somewhere that names the action.
  if (!strong || matched * 2 < tokens.length) return null;
  return { lane: LANE.fullText, score: score / tokens.length, fields: [...hitFields] };
}

function fuzzy(q: string, candidates: string[]): Match | null {
  let best = 0;
  for (const candidate of candidates) best = Math.max(best, similarity(q, candidate.toLowerCase()));
  return best >= FUZZY_FLOOR ? { lane: LANE.fuzzy, score: best, fields: ['fuzzy'] } : null;
}

/** Trigram similarity as pg_trgm computes it: shared trigrams over all distinct trigrams. */
export function similarity(a: string, b: string): number {
  const ta = trigrams(a);
  const tb = trigrams(b);
  if (ta.size === 0 || tb.size === 0) return 0;
  let shared = 0;
  for (const t of ta) if (tb.has(t)) shared++;
  return shared / (ta.size + tb.size - shared);
}

function trigrams(text: string): Set<string> {
  const set = new Set<string>();
  for (const word of words(text)) {
    const padded = `  ${word} `;
    for (let i = 0; i + 3 <= padded.length; i++) set.add(padded.slice(i, i + 3));
  }
  return set;
}
