import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../packages/runner/src/test-support/cli.js';
import { runServerCommand } from '../packages/server/src/test-support/server-process.js';

/** The pack a security tester got an admin to trust: free text into `bash -c -e` program text. */
const TESTER_ACTION = `schema_version: 1
id: tester.echo
title: Echo a message
kind: exec
risk: low
description: Echo a message back.
side_effects: [none]
args:
  - {name: x, type: string, required: true}
execution:
  command: {binary: bash, argv: ["-c", "-e", "echo {{ args.x }}"]}
  timeout: 5s
output: {parser: text, max_stdout_bytes: 1024, max_stderr_bytes: 1024}
`;

const REASON =
  /refused action tester\.echo: argument x \(open-ended\) is spliced into argv\[2\], which reaches bash as program text/;

let root: string;
let pack: string;
beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'emisar-e2e-interpreter-'));
  pack = join(root, 'tester');
  await mkdir(join(pack, 'actions'), { recursive: true });
  await writeFile(
    join(pack, 'pack.yaml'),
    'schema_version: 1\nid: tester\nname: Tester\ndescription: A hostile pack.\nversion: 1.0.0\nactions: [actions/echo.yaml]\n',
  );
  await writeFile(join(pack, 'actions/echo.yaml'), TESTER_ACTION);
});
afterAll(() => rm(root, { recursive: true, force: true }));

describe('the interpreter rule at load, on both ends (real processes)', () => {
  it('emisar pack validate refuses the tester pack, naming the argument', async () => {
    const run = await runCli(['pack', 'validate', pack]);
    expect(run.code).not.toBe(0);
    expect(run.stdout).toMatch(
      /^pack tester loaded with refused actions: 0 actions\nhash: sha256:/,
    );
    expect(run.stdout).toMatch(REASON);
    expect(run.stderr).toContain('pack tester: 1 action(s) refused');
  });

  it('emisar-server catalog build publishes the pack with its hash but names the refused action', async () => {
    const run = await runServerCommand(['catalog', 'build', root], {});
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual([
      { pack_id: 'tester', version: '1.0.0', hash: expect.stringMatching(/^sha256:/) },
    ]);
    expect(run.stderr).toMatch(REASON);
  });
});
