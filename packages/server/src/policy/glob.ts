/**
 * Override globs: `*` matches any run of characters (including none), every
 * other character is literal, the whole action id must match, case-insensitive.
 * Matching is iterative with one backtrack point, so no glob can make it
 * super-linear the way a translated regular expression could.
 */
export function globMatches(glob: string, text: string): boolean {
  return matchStars(glob.toLowerCase(), text.toLowerCase(), false);
}

/**
 * Whether every action id `inner` matches is also matched by `outer` (so an
 * `inner` override listed after `outer` can never win). `outer` must match
 * `inner` read as text in which each `*` is a symbol only a `*` of `outer`
 * may absorb.
 */
export function globCovers(outer: string, inner: string): boolean {
  return matchStars(outer.toLowerCase(), inner.toLowerCase(), true);
}

function matchStars(pattern: string, text: string, textStarsAreOpaque: boolean): boolean {
  let p = 0;
  let t = 0;
  let starAt = -1;
  let resumeAt = 0;
  while (t < text.length) {
    const pc = pattern[p];
    const tc = text[t];
    if (pc === '*') {
      starAt = p++;
      resumeAt = t;
    } else if (pc !== undefined && pc === tc && !(textStarsAreOpaque && tc === '*')) {
      p++;
      t++;
    } else if (starAt >= 0) {
      p = starAt + 1;
      t = ++resumeAt;
    } else {
      return false;
    }
  }
  while (pattern[p] === '*') p++;
  return p === pattern.length;
}
