import { createServer, type IncomingMessage } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createMailTransport } from './transports.js';

/** A local stand-in for the Postmark API: records requests, answers with a chosen status. */
describe('Postmark API transport', () => {
  const received: { headers: IncomingMessage['headers']; body: unknown }[] = [];
  let status = 200;
  const server = createServer((request, response) => {
    let text = '';
    request.on('data', (chunk) => {
      text += chunk;
    });
    request.on('end', () => {
      received.push({ headers: request.headers, body: JSON.parse(text) });
      response.writeHead(status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  let endpoint = '';
  beforeAll(async () => {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}/email`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const mail = { from: 'ops@example.com', to: 'a@example.test', subject: 'Hello', text: 'Body' };

  it('posts the message with the server token', async () => {
    status = 200;
    const transport = createMailTransport({ kind: 'postmark', token: 'server-token' }, endpoint)!;
    await transport.send(mail);
    const request = received.at(-1)!;
    expect(request.headers['x-postmark-server-token']).toBe('server-token');
    expect(request.body).toEqual({
      From: 'ops@example.com',
      To: 'a@example.test',
      Subject: 'Hello',
      TextBody: 'Body',
      MessageStream: 'outbound',
    });
  });

  it('throws on an error answer so the outbox retries', async () => {
    status = 422;
    const transport = createMailTransport({ kind: 'postmark', token: 'server-token' }, endpoint)!;
    await expect(transport.send(mail)).rejects.toThrow(/HTTP 422/);
  });
});
