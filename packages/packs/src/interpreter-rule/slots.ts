import { parseTemplate, soleExpression, type TemplatePart } from '../template.js';
import type { ArgSpec } from '../types.js';
import type { El } from './types.js';
import { type ArgShape, argShape } from './values.js';

/** Concrete texts tried for one element before the check refuses as unsure. */
export const MAX_RENDERINGS = 4096;

/**
 * What one argv template may render to: a choice of element sequences
 * (`[]` when an optional value drops it), or, for a whole-element array,
 * any number of items up to `max`.
 */
export type Slot =
  | { kind: 'fixed'; choices: El[][] }
  | { kind: 'repeat'; items: El[]; max: number };

export class TooManyRenderings extends Error {
  constructor(readonly at: number) {
    super(`argv[${at}] has more than ${MAX_RENDERINGS} renderings`);
  }
}

function product(lists: string[][], at: number): string[] {
  let out = [''];
  for (const list of lists) {
    out = out.flatMap((head) => list.map((item) => head + item));
    if (out.length > MAX_RENDERINGS) throw new TooManyRenderings(at);
  }
  return out;
}

function elementOf(parts: TemplatePart[], shapes: Map<string, ArgShape>, at: number): El[] {
  const refs = parts.flatMap((p) => (p.kind === 'arg' ? [p.name] : []));
  const firstOpen = parts.findIndex((p) => p.kind === 'arg' && shapes.get(p.name)!.open);
  const rendered = (upTo: number) =>
    product(
      parts
        .slice(0, upTo)
        .map((p) => (p.kind === 'text' ? [p.text] : shapes.get(p.name)!.renderings)),
      at,
    );
  if (firstOpen < 0) {
    return rendered(parts.length).map((text) => ({ kind: 'text', text, at, args: refs }));
  }
  const open = refs.filter((name) => shapes.get(name)!.open);
  const spliced = parts.length > 1;
  const first = parts[firstOpen] as { name: string };
  return rendered(firstOpen).map((prefix) => ({
    kind: 'open',
    at,
    args: open,
    spliced,
    prefix,
    dashSafe: prefix === '' ? shapes.get(first.name)!.dashSafe : false,
  }));
}

/** The slots of an argv: what each template may become, as far as load time can tell. */
export function slotsOf(argv: readonly string[], args: readonly ArgSpec[], offset = 0): Slot[] {
  const shapes = new Map(args.map((a) => [a.name, argShape(a)]));
  return argv.map((template, i): Slot => {
    const at = i + offset;
    const parts = parseTemplate(template);
    if ('error' in parts)
      return { kind: 'fixed', choices: [[{ kind: 'text', text: template, at, args: [] }]] };
    const sole = soleExpression(parts);
    const shape = sole ? shapes.get(sole.name)! : undefined;
    if (shape?.array)
      return { kind: 'repeat', items: elementOf(parts, shapes, at), max: shape.maxItems };
    const choices = elementOf(parts, shapes, at).map((el) => [el]);
    const optional = parts.some((p) => p.kind === 'arg' && p.optional);
    return { kind: 'fixed', choices: optional ? [...choices, []] : choices };
  });
}
