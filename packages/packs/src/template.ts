export type TemplatePart =
  | { kind: 'text'; text: string }
  | { kind: 'arg'; name: string; optional: boolean };

const EXPRESSION = /\{\{\s*args\.([A-Za-z_][A-Za-z0-9_]*)(\?)?\s*\}\}/g;

/** Splits `pre {{ args.x }} post` into parts; only `{{ args.NAME }}` and `{{ args.NAME? }}` exist. */
export function parseTemplate(source: string): TemplatePart[] | { error: string } {
  const parts: TemplatePart[] = [];
  let last = 0;
  for (const m of source.matchAll(EXPRESSION)) {
    if (m.index > last) parts.push({ kind: 'text', text: source.slice(last, m.index) });
    parts.push({ kind: 'arg', name: m[1]!, optional: m[2] === '?' });
    last = m.index + m[0].length;
  }
  if (last < source.length) parts.push({ kind: 'text', text: source.slice(last) });
  if (parts.some((p) => p.kind === 'text' && p.text.includes('{{'))) {
    return { error: 'only {{ args.NAME }} and {{ args.NAME? }} expressions are allowed' };
  }
  return parts;
}

/** The arg a template is made of when it is exactly one expression, else undefined. */
export function soleExpression(
  parts: TemplatePart[],
): { name: string; optional: boolean } | undefined {
  const only = parts.length === 1 ? parts[0] : undefined;
  return only?.kind === 'arg' ? only : undefined;
}
