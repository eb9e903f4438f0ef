import { formatDuration } from './duration.js';
import { parseTemplate, soleExpression, type TemplatePart } from './template.js';
import type { ActionDefinition, ArgValue, ArgValues } from './types.js';

/** A template referenced a value the call does not have (no value, no default, not optional). */
export class RenderError extends Error {
  override readonly name = 'RenderError';
  readonly arg: string;

  constructor(arg: string) {
    super(`args.${arg} is required by the command line but has no value`);
    this.arg = arg;
  }
}

export interface Invocation {
  /** exec: the binary (bare name or /bin/sh); script: the interpreter. */
  file: string;
  /** Arguments after argv[0]; script kind starts with the absolute script path. */
  argv: string[];
  /** The action's declared env, rendered (the caller adds the inherited environment). */
  env: Record<string, string>;
  cwd: string;
  user?: string;
  scriptPath?: string;
  /** Expected SHA-256 (hex) of the script, to recheck just before exec. */
  scriptSha256?: string;
}

function scalarText(value: ArgValue): string {
  switch (value.type) {
    case 'boolean':
      return value.value ? 'true' : 'false';
    case 'integer':
      return value.value.toString();
    case 'duration':
      return formatDuration(value.value);
    case 'string_array':
    case 'integer_array':
      // The loader refuses arrays inside larger strings; this is a defensive join.
      return value.value.map(String).join(' ');
    default:
      return value.value;
  }
}

function isEmpty(value: ArgValue | undefined): boolean {
  if (value === undefined) return true;
  if (Array.isArray(value.value)) return value.value.length === 0;
  return value.value === '';
}

function lookup(values: ArgValues, name: string): ArgValue | undefined {
  return Object.hasOwn(values, name) ? values[name] : undefined;
}

/** Renders one template to zero or more argv elements. */
function renderElement(parts: TemplatePart[], values: ArgValues): string[] {
  const sole = soleExpression(parts);
  if (sole !== undefined) {
    const value = lookup(values, sole.name);
    if (sole.optional && isEmpty(value)) return [];
    if (value === undefined) throw new RenderError(sole.name);
    if (value.type === 'string_array' || value.type === 'integer_array')
      return value.value.map(String);
    return [scalarText(value)];
  }
  let out = '';
  for (const part of parts) {
    if (part.kind === 'text') {
      out += part.text;
      continue;
    }
    const value = lookup(values, part.name);
    if (part.optional && isEmpty(value)) return [];
    if (value === undefined) throw new RenderError(part.name);
    out += scalarText(value);
  }
  return [out];
}

function parsed(template: string): TemplatePart[] {
  const parts = parseTemplate(template);
  if ('error' in parts) throw new Error(parts.error); // the loader already refused these
  return parts;
}

/**
 * Renders an action's command line from validated values. Every value is one
 * argv element (or one per array item): nothing is ever split or re-parsed.
 */
export function renderInvocation(action: ActionDefinition, values: ArgValues): Invocation {
  const ex = action.execution;
  const rendered = ex.argv.flatMap((template) => renderElement(parsed(template), values));
  const env: Record<string, string> = {};
  for (const [key, template] of Object.entries(ex.env)) {
    const [value] = renderElement(parsed(template), values);
    if (value !== undefined) env[key] = value;
  }
  const invocation: Invocation = { file: ex.binary, argv: rendered, env, cwd: ex.cwd };
  if (ex.user !== undefined) invocation.user = ex.user;
  if (ex.script !== undefined) {
    invocation.argv = [ex.script.absolutePath, ...rendered];
    invocation.scriptPath = ex.script.absolutePath;
    invocation.scriptSha256 = ex.script.sha256;
  }
  return invocation;
}
