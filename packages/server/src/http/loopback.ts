import type { FastifyRequest } from 'fastify';

const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** The address is this machine. */
export function isLoopbackAddress(ip: string): boolean {
  return LOOPBACK.test(ip);
}

/**
 * The client (after TRUST_PROXY) is this machine. A request that arrives from
 * loopback carrying forwarding headers while no proxy is trusted came through
 * a local reverse proxy from somewhere else: it is not a loopback client.
 */
export function isLoopbackClient(request: FastifyRequest, trustsProxy: boolean): boolean {
  const forwarded =
    request.headers['x-forwarded-for'] !== undefined || request.headers.forwarded !== undefined;
  if (forwarded && !trustsProxy) return false;
  return isLoopbackAddress(request.ip);
}
