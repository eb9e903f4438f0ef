import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestApp, type TestApp } from '../test-support/app.js';
import { onPostgres } from '../test-support/database.js';
import { accountWithKey, register, registration } from './test-support/enrollment.js';
import { repoPacksState } from './test-support/fixtures.js';
import { RecordingRunHooks } from './test-support/run-hooks.js';
import { TestRunnerSocket } from './test-support/ws-client.js';

describe(`runner error frames (${onPostgres ? 'PostgreSQL' : 'PGlite'})`, () => {
  let h: TestApp;
  const hooks = new RecordingRunHooks();
  beforeAll(async () => {
    h = await startTestApp({ config: { logLevel: 'warn' }, runHooks: hooks });
  });
  afterAll(() => h.close());

  it('are logged at warn with runner, code and message (secrets redacted) and counted per runner and code', async () => {
    const { accountId, key } = await accountWithKey(h);
    const enrolled = await register(h.url, key, registration('errs-1'));
    const runnerId = (
      await h.storage.db
        .selectFrom('runners')
        .select('id')
        .where('account_id', '=', accountId)
        .executeTakeFirstOrThrow()
    ).id;
    const socket = await TestRunnerSocket.connect(h.url, enrolled.body.token as string);
    socket.send({ ...(await repoPacksState()), hostname: 'errs-1' });
    await hooks.until(() => hooks.calls.some((c) => c.hook === 'deliverPending'));

    const secret = `emk-${'s'.repeat(43)}`;
    const frames = [
      { code: 'invalid_frame', message: 'frame rejected' },
      { code: 'journal_full', request_id: 'req_a', message: `disk full; key ${secret}` },
      { code: 'invalid_frame', message: 'frame rejected' },
      // Back-pressure the runs domain handles: neither logged nor counted.
      { code: 'concurrency_cap_reached', request_id: 'req_b', message: 'busy' },
    ];
    for (const frame of frames) socket.send({ type: 'error', ...frame });
    await hooks.until(
      () => hooks.calls.filter((c) => c.hook === 'runnerError').length === frames.length,
    );

    expect(h.app.runnerGateway.runnerErrorCounts(runnerId)).toEqual({
      invalid_frame: 2,
      journal_full: 1,
    });
    const warned = h.logs().filter((line) => line.msg === 'runner reported an error');
    expect(warned).toEqual([
      expect.objectContaining({ runner_id: runnerId, code: 'invalid_frame', request_id: null }),
      expect.objectContaining({
        runner_id: runnerId,
        account_id: accountId,
        code: 'journal_full',
        request_id: 'req_a',
        message: 'disk full; key [REDACTED_EMISAR_TOKEN]',
      }),
      expect.objectContaining({ code: 'invalid_frame' }),
    ]);
    expect(warned[0]?.level).toBe(40);
    expect(JSON.stringify(h.logs())).not.toContain(secret);
    socket.close();
  });
});
