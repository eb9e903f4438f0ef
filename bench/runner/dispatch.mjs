// Dispatch overhead of the runner engine: validate + render + spawn + journal for a
// trivial action, with the program's own time taken out. Imports the built dist:
// run `npm run build` first. Usage: node bench/runner/dispatch.mjs [iterations]
import { spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  detectIsolation,
  engineDeps,
  loadRegistry,
  loadRunnerConfig,
  openJournal,
  runAction,
} from '../../packages/runner/dist/index.js';

const iterations = Number(process.argv[2] ?? 300);
const warmup = 20;

const root = await mkdtemp(join(tmpdir(), 'emisar-bench-'));
const packDir = join(root, 'packs/bench');
await mkdir(join(packDir, 'actions'), { recursive: true });
await writeFile(
  join(packDir, 'pack.yaml'),
  'schema_version: 1\nid: bench\nname: Bench\nversion: 1.0.0\ndescription: Benchmark pack.\nactions:\n  - actions/true.yaml\n',
);
await writeFile(
  join(packDir, 'actions/true.yaml'),
  `schema_version: 1
id: bench.true
title: Do nothing
kind: exec
risk: low
description: Runs true with one argument.
side_effects: [none]
args:
  - name: word
    type: string
    required: true
    description: Ignored.
    validation: { pattern: "^[a-z]+$" }
execution:
  command: { binary: "true", argv: ["{{ args.word }}"] }
  timeout: 5s
output: { parser: text, max_stdout_bytes: 1024, max_stderr_bytes: 1024 }
`,
);
const configPath = join(root, 'etc/config.yaml');
await mkdir(join(root, 'etc'));
await writeFile(
  configPath,
  `paths:\n  data_dir: ../data\n  packs: [../packs]\nevents:\n  jsonl_path: ../log/events.jsonl\n  max_size_bytes: 1073741824\n`,
  { mode: 0o600 },
);
await chmod(configPath, 0o600);

const config = await loadRunnerConfig({ explicitPath: configPath, env: {} });
const registry = await loadRegistry(config);
const journal = await openJournal(config);
const isolation = await detectIsolation();
const deps = engineDeps(config, journal, isolation);
const request = (i) => ({
  requestId: `req_bench${i}`,
  actionId: 'bench.true',
  args: { word: 'hello' },
  argsSha256: '0'.repeat(64),
  reason: 'bench',
  opts: undefined,
});

/** The program's own time (fork + exec + run + exit of `true`) without the runner. */
function bareSpawn() {
  return new Promise((resolve) => {
    const started = performance.now();
    const child = spawn('/usr/bin/true', ['hello'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true,
    });
    child.on('close', () => resolve(performance.now() - started));
  });
}

const totals = [];
const bare = [];
for (let i = 0; i < iterations + warmup; i++) {
  const started = performance.now();
  const result = await runAction(deps, registry, request(i));
  const total = performance.now() - started;
  if (result.status !== 'success') throw new Error(`run failed: ${JSON.stringify(result)}`);
  const own = await bareSpawn();
  if (i >= warmup) {
    totals.push(total);
    bare.push(own);
  }
}
await journal.close();

const pct = (values, p) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
};
const overhead = totals.map((t, i) => t - bare[i]);
const fmt = (v) => `${v.toFixed(2)} ms`;
console.log(
  `emisar runner dispatch overhead (${iterations} runs of bench.true, ${isolation.containment.mode} containment, setpriv ${isolation.setpriv ? 'on' : 'off'})`,
);
console.log(
  `  engine total (validate+render+spawn+run+journal x2): p50 ${fmt(pct(totals, 50))}  p99 ${fmt(pct(totals, 99))}`,
);
console.log(
  `  bare spawn of the same program (its own time):        p50 ${fmt(pct(bare, 50))}  p99 ${fmt(pct(bare, 99))}`,
);
console.log(
  `  overhead (total - bare, per run):                    p50 ${fmt(pct(overhead, 50))}  p99 ${fmt(pct(overhead, 99))}   goal p50 <= 10 ms`,
);
