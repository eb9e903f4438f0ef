const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;

/** The client address (after TRUST_PROXY) is this machine. */
export function isLoopbackAddress(ip: string): boolean {
  return LOOPBACK.test(ip);
}
