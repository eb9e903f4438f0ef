import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp } from './app.js';
import { ConflictError } from './core/errors.js';
import type { Storage } from './db/database.js';
import { testConfig } from './test-support/config.js';
import { openTestStorage } from './test-support/database.js';

describe('the HTTP application', () => {
  let storage: Storage;

  beforeAll(async () => {
    storage = await openTestStorage();
  });

  afterAll(async () => {
    await storage.close();
  });

  it('answers health without the database and readiness with it', async () => {
    const app = await createApp({ config: testConfig(), storage });
    expect((await app.inject('/healthz')).json()).toEqual({ status: 'ok' });
    const ready = await app.inject('/readyz');
    expect(ready.statusCode).toBe(200);
    await app.close();
  });

  it('sends strict security headers, and HSTS only for an https base URL', async () => {
    const plain = await createApp({ config: testConfig(), storage });
    const response = await plain.inject('/healthz');
    expect(response.headers['content-security-policy']).toContain("default-src 'self'");
    expect(response.headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(response.headers['x-content-type-options']).toBe('nosniff');
    expect(response.headers['referrer-policy']).toBe('no-referrer');
    expect(response.headers['strict-transport-security']).toBeUndefined();
    expect(response.headers['x-request-id']).toMatch(/^hreq_/);
    await plain.close();

    const secure = await createApp({
      config: testConfig({ baseUrl: 'https://emisar.example.com', secureCookies: true }),
      storage,
    });
    const hsts = (await secure.inject('/healthz')).headers['strict-transport-security'];
    expect(hsts).toContain('max-age=31536000');
    await secure.close();
  });

  it('maps errors to {error: {id, message}, request_id} and hides internals', async () => {
    const logs = new PassThrough();
    let logged = '';
    logs.on('data', (chunk) => {
      logged += chunk;
    });
    const app = await createApp({
      config: testConfig({ logLevel: 'error' }),
      storage,
      logStream: logs,
    });
    app.get('/conflict', async () => {
      throw new ConflictError('That name is taken.', 'name_taken');
    });
    app.get('/boom', async () => {
      throw new Error('password=hunter2 leaked from a driver');
    });
    app.post('/echo', async (request) => request.body);

    const conflict = await app.inject('/conflict');
    expect(conflict.statusCode).toBe(409);
    expect(conflict.json()).toEqual({
      error: { id: 'name_taken', message: 'That name is taken.' },
      request_id: conflict.headers['x-request-id'],
    });

    const boom = await app.inject('/boom');
    expect(boom.statusCode).toBe(500);
    expect(boom.json().error).toEqual({
      id: 'internal',
      message: 'Something went wrong on our side.',
    });
    expect(boom.body).not.toContain('hunter2');

    const badJson = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: '{"a":',
    });
    expect(badJson.statusCode).toBe(400);
    expect(badJson.json().error.id).toBe('invalid_json');

    const tooLarge = await app.inject({
      method: 'POST',
      url: '/echo',
      headers: { 'content-type': 'application/json' },
      payload: JSON.stringify({ a: 'x'.repeat(2 * 1024 * 1024) }),
    });
    expect(tooLarge.statusCode).toBe(413);
    expect(tooLarge.json().error.id).toBe('payload_too_large');

    const missing = await app.inject('/nothing-here');
    expect(missing.statusCode).toBe(404);
    expect(missing.json().error.id).toBe('not_found');
    await app.close();
    expect(logged).toContain('request failed');
  });

  it('reports not ready once the database stops answering', async () => {
    const own = await openTestStorage();
    const app = await createApp({ config: testConfig(), storage: own });
    await own.close();
    const response = await app.inject('/readyz');
    expect(response.statusCode).toBe(503);
    expect(response.json().error.id).toBe('database_unavailable');
    expect(response.headers['retry-after']).toMatch(/^[1-9]\d*$/);
    expect((await app.inject('/healthz')).statusCode).toBe(200);
    await app.close();
  });
});
