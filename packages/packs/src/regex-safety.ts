import { RE2JS } from 're2js';

/**
 * Whether an RE2 pattern can match a newline anywhere. Walks the pattern atom
 * by atom (tracking the `s` flag through groups) and asks RE2 itself whether
 * each character-matching atom accepts "\n". Zero-width atoms never do.
 */
export function canMatchNewline(pattern: string): boolean {
  const dotAll: boolean[] = [false];
  let i = 0;
  const accepts = (atom: string, flags = 0) => RE2JS.compile(atom, flags).testExact('\n');
  while (i < pattern.length) {
    const ch = pattern[i]!;
    if (ch === '\n') return true;
    if (ch === '\\') {
      const next = pattern[i + 1] ?? '';
      if (next === 'Q') {
        const end = pattern.indexOf('\\E', i + 2);
        const quoted = pattern.slice(i + 2, end === -1 ? pattern.length : end);
        if (quoted.includes('\n')) return true;
        i = end === -1 ? pattern.length : end + 2;
        continue;
      }
      const atom = readEscape(pattern, i);
      if (accepts(atom)) return true;
      i += atom.length;
      continue;
    }
    if (ch === '[') {
      const cls = readClass(pattern, i);
      if (accepts(cls)) return true;
      i += cls.length;
      continue;
    }
    if (ch === '.') {
      if (dotAll[dotAll.length - 1]) return true;
      i++;
      continue;
    }
    if (ch === '(') {
      const current = dotAll[dotAll.length - 1]!;
      const flags = /^\(\?([a-zA-Z]*)(?:-([a-zA-Z]*))?([:)])/.exec(pattern.slice(i));
      if (flags !== null) {
        let next = current;
        if (flags[1]!.includes('s')) next = true;
        if ((flags[2] ?? '').includes('s')) next = false;
        if (flags[3] === ')') dotAll[dotAll.length - 1] = next;
        else dotAll.push(next);
        i += flags[0].length;
        continue;
      }
      dotAll.push(current);
      i +=
        pattern.startsWith('(?P<', i) || pattern.startsWith('(?<', i)
          ? pattern.indexOf('>', i) + 1
          : 1;
      continue;
    }
    if (ch === ')') {
      if (dotAll.length > 1) dotAll.pop();
      i++;
      continue;
    }
    i++;
  }
  return false;
}

function readEscape(pattern: string, start: number): string {
  const kind = pattern[start + 1] ?? '';
  if ((kind === 'p' || kind === 'P' || kind === 'x') && pattern[start + 2] === '{') {
    const end = pattern.indexOf('}', start);
    return pattern.slice(start, end === -1 ? pattern.length : end + 1);
  }
  if (kind === 'p' || kind === 'P') return pattern.slice(start, start + 3);
  if (kind === 'x') return pattern.slice(start, start + 4);
  if (/[0-7]/.test(kind)) return /^\\[0-7]{1,3}/.exec(pattern.slice(start))![0];
  return pattern.slice(start, start + 2);
}

function readClass(pattern: string, start: number): string {
  let i = start + 1;
  if (pattern[i] === '^') i++;
  if (pattern[i] === ']') i++;
  while (i < pattern.length && pattern[i] !== ']') {
    if (pattern[i] === '\\') i += readEscape(pattern, i).length;
    else if (pattern.startsWith('[:', i)) {
      const end = pattern.indexOf(':]', i + 2);
      i = end === -1 ? i + 1 : end + 2;
    } else i++;
  }
  return pattern.slice(start, i + 1);
}
