import { chmod, mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const STUBBORN_TREE = `#!/bin/sh
# A child and a grandchild that both note SIGTERM and ignore it; the grandchild
# holds stdout/stderr. Prints "ready" once both traps are set.
MARK="$1"
trap 'echo child-term >> "$MARK"' TERM
sh -c 'trap "echo grandchild-term >> \\"$1\\"" TERM; echo "gc=$$"; : > "$1.gc"; while :; do sleep 0.02; done' sh "$MARK" &
while ! [ -e "$MARK.gc" ]; do sleep 0.01; done
echo ready
while :; do sleep 0.02; done
`;

const STEPPED = `#!/bin/sh
# Prints line i, then waits for the file go-i in the given folder, N times.
dir="$1"; n="$2"; i=1
while [ "$i" -le "$n" ]; do
  echo "line-$i"
  while ! [ -e "$dir/go-$i" ]; do sleep 0.01; done
  i=$((i + 1))
done
echo "ran" >> "$dir/runs"
`;

function action(id: string, body: string): string {
  return `schema_version: 1
id: ${id}
title: Test action ${id}
kind: ${body.includes('script:') ? 'script' : 'exec'}
risk: low
description: A test action used by the runner tests.
side_effects:
  - none
${body}
output:
  parser: text
  max_stdout_bytes: 65536
  max_stderr_bytes: 65536
`;
}

export const TEST_ACTIONS: Record<string, string> = {
  'actions/echo.yaml': action(
    'testkit.echo',
    `args:
  - name: text
    type: string
    required: true
    description: Printed back.
  - name: token
    type: string
    sensitive: true
    description: A secret echoed back, to see it masked.
execution:
  command:
    binary: printf
    argv: ["[%s]\\\\n", "{{ args.text }}", "{{ args.token? }}"]
  timeout: 5s
  timeout_max: 10s
`,
  ),
  'actions/cat.yaml': action(
    'testkit.cat',
    `args:
  - name: file
    type: path
    required: true
    description: File to print.
execution:
  command:
    binary: cat
    argv: ["{{ args.file }}"]
  timeout: 5s
`,
  ),
  'actions/tree.yaml': action(
    'testkit.tree',
    `args:
  - name: mark
    type: path
    required: true
    description: Marker file.
execution:
  script:
    path: scripts/tree.sh
    interpreter: /bin/sh
  argv: ["{{ args.mark }}"]
  timeout: 30s
  timeout_min: 1s
  timeout_max: 60s
  cancel_grace: 1s
`,
  ),
  'actions/stepped.yaml': action(
    'testkit.stepped',
    `args:
  - name: dir
    type: path
    required: true
    description: Folder of go-N files.
  - name: steps
    type: integer
    required: true
    description: How many lines.
    validation:
      min: 1
      max: 100
execution:
  script:
    path: scripts/stepped.sh
    interpreter: /bin/sh
  argv: ["{{ args.dir }}", "{{ args.steps }}"]
  timeout: 60s
`,
  ),
  'actions/sleep.yaml': action(
    'testkit.sleep',
    `args:
  - name: seconds
    type: integer
    required: true
    description: How long.
    validation:
      min: 0
      max: 3600
execution:
  command:
    binary: sleep
    argv: ["{{ args.seconds }}"]
  timeout: 2s
  timeout_min: 1s
  timeout_max: 3s
`,
  ),
};

/** A pack of test actions in a fresh folder (packs root = the returned `root`). */
export async function writeTestPack(): Promise<{ root: string; dir: string }> {
  const root = await mkdtemp(join(tmpdir(), 'emisar-packs-'));
  const dir = join(root, 'testkit');
  await mkdir(join(dir, 'actions'), { recursive: true });
  await mkdir(join(dir, 'scripts'));
  await writeFile(
    join(dir, 'pack.yaml'),
    `schema_version: 1
id: testkit
name: Runner test kit
version: 1.0.0
description: Actions the runner tests drive.
actions:
${Object.keys(TEST_ACTIONS)
  .map((file) => `  - ${file}`)
  .join('\n')}
`,
  );
  for (const [file, text] of Object.entries(TEST_ACTIONS)) await writeFile(join(dir, file), text);
  await writeFile(join(dir, 'scripts/tree.sh'), STUBBORN_TREE);
  await writeFile(join(dir, 'scripts/stepped.sh'), STEPPED);
  await chmod(join(dir, 'scripts/tree.sh'), 0o755);
  await chmod(join(dir, 'scripts/stepped.sh'), 0o755);
  return { root, dir };
}

/** A runner home: config (0600), data dir, journal path, packs path. */
export async function writeRunnerHome(options: {
  packs: string[];
  url?: string;
  extra?: string;
}): Promise<{ home: string; configPath: string; dataDir: string; journalPath: string }> {
  const home = await mkdtemp(join(tmpdir(), 'emisar-home-'));
  const dataDir = join(home, 'data');
  const journalPath = join(home, 'log/events.jsonl');
  const configPath = join(home, 'etc/config.yaml');
  await mkdir(join(home, 'etc'));
  await writeFile(
    configPath,
    `runner:
  id: test-runner
cloud:
  url: ${options.url ?? 'http://127.0.0.1:9'}
  heartbeat_every: 200ms
  reconnect_min: 10ms
  reconnect_max: 50ms
paths:
  data_dir: ../data
  packs: [${options.packs.map((p) => JSON.stringify(p)).join(', ')}]
execution:
  cancel_grace: 200ms
events:
  jsonl_path: ../log/events.jsonl
${options.extra ?? ''}`,
    { mode: 0o600 },
  );
  return { home, configPath, dataDir, journalPath };
}
