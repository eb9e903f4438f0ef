import { argSpecsFromDeclared, argsJsonSchema } from '@emisar/packs';
import type { ActionDescriptor } from '@emisar/protocol';
import { z } from 'zod';
import type { TrustedOffering } from '../catalog/index.js';
import type { AgentRunner } from '../fleet/index.js';
import type { McpCaller } from './caller.js';
import type { Cursors } from './cursor.js';
import { ToolError } from './envelope.js';
import {
  type FleetView,
  type FleetViewDeps,
  findRunner,
  isRunnable,
  loadFleetView,
  runnerBrief,
  targetRunners,
} from './fleet-view.js';
import { actionId, cursor, exclusive, packRef, runnerRefs, text256 } from './inputs.js';
import { filtersOf, pageOf } from './paging.js';
import { rankAction } from './ranking.js';
import { defineTool, READ_ANNOTATIONS } from './tool.js';

export interface CatalogToolDeps extends FleetViewDeps {
  cursors: Cursors;
}

const COMPATIBLE_MAX = 15;

/** A critical action a host let past the interpreter rule says so wherever it is shown. */
const breakGlass = (d: ActionDescriptor) => (d.break_glass ? { break_glass: true } : {});

/** Exact numbers become plain JSON numbers (their text), as the model reads them. */
const plainJson = (value: unknown): unknown => JSON.parse(JSON.stringify(value));

/** The runners the call narrows to (`target` or `runner_refs`), or all in reach. */
function scopedRunners(
  view: FleetView,
  args: { target?: string | undefined; runner_refs?: string[] | undefined },
): AgentRunner[] {
  if (args.target !== undefined) return targetRunners(view, args.target);
  if (args.runner_refs === undefined) return view.runners;
  return args.runner_refs.flatMap((ref) => findRunner(view, ref) ?? []);
}

function offeringsOn(
  view: FleetView,
  runners: AgentRunner[],
  args: { pack_id?: string | undefined; pack_ref?: string | undefined },
): TrustedOffering[] {
  const ids = new Set(runners.map((r) => r.id));
  return view.offerings.filter(
    (o) =>
      ids.has(o.runnerId) &&
      (args.pack_id === undefined || o.packId === args.pack_id) &&
      (args.pack_ref === undefined || o.packRef === args.pack_ref),
  );
}

const offeringKey = (o: TrustedOffering) => `${o.packRef}\n${o.actionId}`;

/** Offerings grouped by (pack_ref, action): one entry per action, with the runners offering it. */
function byAction(offerings: TrustedOffering[]): TrustedOffering[][] {
  const groups = new Map<string, TrustedOffering[]>();
  for (const o of offerings) groups.set(offeringKey(o), [...(groups.get(offeringKey(o)) ?? []), o]);
  return [...groups.values()];
}

const listPacksInput = z
  .strictObject({
    pack_id: z.string().min(1).max(128).optional(),
    pack_ref: packRef.optional(),
    runner_refs: runnerRefs.optional(),
    availability: z.enum(['executable', 'all']).default('executable'),
    limit: z.number().int().min(1).max(50).default(15),
    cursor: cursor.optional(),
  })
  .superRefine(exclusive(['pack_id', 'pack_ref']));

/** The trusted packs the caller's runners offer, with their actions and issues. */
export const listPacksTool = (deps: CatalogToolDeps) =>
  defineTool({
    name: 'list_packs',
    title: 'List packs',
    description:
      'Lists the trusted action packs on your runners, with their actions and any issues. By default only packs with at least one connected runner that can execute them.',
    input: listPacksInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof listPacksInput>) {
      const view = await loadFleetView(deps, caller);
      const offerings = offeringsOn(view, scopedRunners(view, args), args);
      const packs = new Map<string, TrustedOffering[]>();
      for (const o of offerings) packs.set(o.packRef, [...(packs.get(o.packRef) ?? []), o]);
      const versionsOf = (packId: string) =>
        new Set(offerings.filter((o) => o.packId === packId).map((o) => o.packRef)).size;
      const all = [...packs.entries()].map(([ref, list]) => {
        const runnable = list.some((o) => isRunnable(view, o));
        const issues = packIssues(view, list, versionsOf(list[0]!.packId) > 1);
        const actions = byAction(list).map((group) => ({
          action_id: group[0]!.actionId,
          title: group[0]!.descriptor.title,
          summary: group[0]!.descriptor.summary,
          risk: group[0]!.descriptor.risk,
          availability: group.some((o) => isRunnable(view, o)) ? 'executable' : 'unavailable',
        }));
        return {
          pack_ref: ref,
          availability: runnable ? 'executable' : 'unavailable',
          issues,
          actions,
        };
      });
      const shown = all.filter(
        (p) => args.availability === 'all' || p.availability === 'executable',
      );
      const { page, nextCursor } = pageOf(
        deps.cursors,
        caller,
        { tool: 'list_packs', filters: filtersOf(args), cursor: args.cursor, limit: args.limit },
        shown,
      );
      return { observed_at: view.observedAt, packs: page, next_cursor: nextCursor };
    },
  });

function packIssues(view: FleetView, list: TrustedOffering[], skewed: boolean) {
  const issues: { code: string; message: string }[] = [];
  const runners = new Set(list.map((o) => o.runnerId));
  const connected = [...runners].filter((id) => view.runnerById.get(id)?.status === 'connected');
  if (connected.length === 0) {
    issues.push({
      code: 'no_connected_runner',
      message: 'No runner offering this pack is connected.',
    });
  }
  if (list.some((o) => !o.executableAvailable)) {
    issues.push({
      code: 'primary_executable_missing',
      message: "Some runners lack an action's program on their PATH.",
    });
  }
  if (list.some((o) => !o.contractMatches)) {
    issues.push({
      code: 'descriptor_mismatch',
      message:
        'Some runners describe an action differently from the trusted pack; they cannot run it.',
    });
  }
  const actionsOf = (runnerId: string) => list.filter((o) => o.runnerId === runnerId).length;
  const actions = new Set(list.map((o) => o.actionId)).size;
  if ([...runners].some((id) => actionsOf(id) < actions)) {
    issues.push({
      code: 'partially_deployed',
      message: 'Some runners offer only part of this pack version.',
    });
  }
  if (skewed) {
    issues.push({
      code: 'version_skew',
      message: 'Runners offer more than one trusted version of this pack.',
    });
  }
  return issues;
}

const STATUSES = ['connected', 'disconnected', 'pending', 'disabled'] as const;

const listRunnersInput = z
  .strictObject({
    query: text256.optional(),
    runner_refs: runnerRefs.optional(),
    statuses: z.array(z.enum(STATUSES)).min(1).max(4).optional(),
    pack_id: z.string().min(1).max(128).optional(),
    pack_ref: packRef.optional(),
    action_id: actionId.optional(),
    issues_only: z.boolean().default(false),
    limit: z.number().int().min(1).max(50).default(15),
    cursor: cursor.optional(),
  })
  .superRefine(exclusive(['query', 'runner_refs'], ['pack_id', 'pack_ref']))
  .superRefine((value, ctx) => {
    if (value.action_id !== undefined && value.pack_ref === undefined) {
      ctx.addIssue({ code: 'custom', path: ['pack_ref'], message: 'required with action_id' });
    }
  });

/** The caller's runners, by name, with status, packs and issues. */
export const listRunnersTool = (deps: CatalogToolDeps) =>
  defineTool({
    name: 'list_runners',
    title: 'List runners',
    description:
      'Lists the runners (hosts) you can reach, with their status, labels, trusted packs and issues. Filter by a name query or runner refs, status, pack or action.',
    input: listRunnersInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof listRunnersInput>) {
      const view = await loadFleetView(deps, caller);
      const q = args.query?.toLowerCase();
      const matched = scopedRunners(view, { runner_refs: args.runner_refs })
        .filter(
          (r) =>
            q === undefined ||
            [r.ref, r.name, r.hostname, r.group].some((f) => f.toLowerCase().includes(q)),
        )
        .filter((r) => args.statuses === undefined || args.statuses.includes(r.status))
        .map((r) => {
          const offered = view.offerings.filter((o) => o.runnerId === r.id);
          const packs = [...new Set(offered.map((o) => o.packRef))];
          const issues =
            r.status === 'connected'
              ? []
              : [{ code: r.status, message: `The runner is ${r.status}.` }];
          return { runner: r, offered, packs, issues };
        })
        .filter(({ offered }) =>
          args.pack_id === undefined && args.pack_ref === undefined
            ? true
            : offered.some(
                (o) =>
                  (args.pack_id === undefined || o.packId === args.pack_id) &&
                  (args.pack_ref === undefined || o.packRef === args.pack_ref) &&
                  (args.action_id === undefined || o.actionId === args.action_id),
              ),
        )
        .filter(({ issues }) => !args.issues_only || issues.length > 0);
      const summary = {
        matched: matched.length,
        connected: 0,
        disconnected: 0,
        pending: 0,
        disabled: 0,
      };
      for (const { runner } of matched) summary[runner.status]++;
      const { page, nextCursor } = pageOf(
        deps.cursors,
        caller,
        { tool: 'list_runners', filters: filtersOf(args), cursor: args.cursor, limit: args.limit },
        matched,
      );
      return {
        observed_at: view.observedAt,
        summary,
        runners: page.map(({ runner, packs, issues }) => ({
          runner_ref: runner.ref,
          name: runner.name,
          hostname: runner.hostname,
          group: runner.group,
          status: runner.status,
          last_seen_at: runner.lastSeenAt,
          labels: runner.labels,
          packs,
          issues,
        })),
        next_cursor: nextCursor,
      };
    },
  });

const findActionsInput = z
  .strictObject({
    query: text256.optional(),
    action_id: actionId.optional(),
    pack_id: z.string().min(1).max(128).optional(),
    pack_ref: packRef.optional(),
    target: text256.optional(),
    runner_refs: runnerRefs.optional(),
    limit: z.number().int().min(1).max(15).default(10),
    cursor: cursor.optional(),
  })
  .superRefine(
    exclusive(['query', 'action_id'], ['pack_id', 'pack_ref'], ['target', 'runner_refs']),
  );

/** Ranked candidates for what the model wants to do; a query outside the catalog finds nothing. */
export const findActionsTool = (deps: CatalogToolDeps) =>
  defineTool({
    name: 'find_actions',
    title: 'Find actions',
    description:
      'Searches the declared actions your runners offer (by words, an action id, a pack or a target host). Returns ranked candidates; read one with get_action before running it.',
    input: findActionsInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof findActionsInput>) {
      const view = await loadFleetView(deps, caller);
      const groups = byAction(offeringsOn(view, scopedRunners(view, args), args));
      const ranked = groups
        .map((group) => {
          const d = group[0]!.descriptor;
          if (args.action_id !== undefined) {
            return d.id === args.action_id
              ? { group, match: { lane: 5, score: 1, fields: ['action_id'] } }
              : null;
          }
          if (args.query === undefined) return { group, match: { lane: 0, score: 0, fields: [] } };
          const match = rankAction(args.query, d);
          return match ? { group, match } : null;
        })
        .filter((item) => item !== null)
        .sort(
          (a, b) =>
            b.match.lane - a.match.lane ||
            b.match.score - a.match.score ||
            a.group[0]!.actionId.localeCompare(b.group[0]!.actionId) ||
            a.group[0]!.packRef.localeCompare(b.group[0]!.packRef),
        );
      const { page, nextCursor } = pageOf(
        deps.cursors,
        caller,
        { tool: 'find_actions', filters: filtersOf(args), cursor: args.cursor, limit: args.limit },
        ranked,
      );
      return {
        candidates: page.map(({ group, match }) => {
          const d = group[0]!.descriptor;
          const pack_ref = group[0]!.packRef;
          return {
            action_id: d.id,
            pack_ref,
            title: d.title,
            summary: d.summary,
            risk: d.risk,
            ...breakGlass(d),
            side_effects: d.side_effects,
            matched_fields: match.fields,
            next: { tool: 'get_action', arguments: { action_id: d.id, pack_ref } },
          };
        }),
        next_cursor: nextCursor,
        next: nextCursor
          ? { tool: 'find_actions', arguments: { ...filtersOf(args), cursor: nextCursor } }
          : null,
      };
    },
  });

const getActionInput = z
  .strictObject({
    action_id: actionId,
    pack_ref: packRef,
    target: text256.optional(),
    runner_refs: runnerRefs.optional(),
  })
  .superRefine(exclusive(['target', 'runner_refs']));

/** The full contract of one action from the trusted pack, and the runners that can run it. */
export const getActionTool = (deps: CatalogToolDeps) =>
  defineTool({
    name: 'get_action',
    title: 'Get an action',
    description:
      "Reads one action's contract from the trusted pack: what it does, its risk and side effects, the JSON Schema of its arguments, its output and examples, and the runners that can run it.",
    input: getActionInput,
    annotations: READ_ANNOTATIONS,
    async call(caller: McpCaller, args: z.infer<typeof getActionInput>) {
      const view = await loadFleetView(deps, caller);
      const offerings = offeringsOn(view, scopedRunners(view, args), args).filter(
        (o) => o.actionId === args.action_id,
      );
      const d = offerings[0]?.descriptor;
      if (!d) {
        throw new ToolError(
          'target_contract_changed',
          'No runner you can reach offers this action from this trusted pack version (it changed, or the runners went away). Find it again.',
          {
            retryable: true,
            next: { tool: 'find_actions', arguments: { action_id: args.action_id } },
          },
        );
      }
      const compatible = offerings
        .map((o) => ({ o, runner: view.runnerById.get(o.runnerId)! }))
        .sort(
          (a, b) =>
            Number(isRunnable(view, b.o)) - Number(isRunnable(view, a.o)) ||
            a.runner.name.localeCompare(b.runner.name),
        );
      return {
        action: {
          action_id: d.id,
          pack_ref: args.pack_ref,
          title: d.title,
          description: d.description,
          risk: d.risk,
          ...breakGlass(d),
          side_effects: d.side_effects,
          args_schema: plainJson(argsJsonSchema({ args: argSpecsFromDeclared(d.args) })),
          output_schema: d.output.schema ?? null,
          examples: d.examples,
        },
        compatible_runners: compatible
          .slice(0, COMPATIBLE_MAX)
          .map(({ o, runner }) => runnerBrief(runner, o.executableAvailable)),
        more_compatible_runners: Math.max(0, compatible.length - COMPATIBLE_MAX),
        next: null,
      };
    },
  });
