import { ConfigError } from '../core/config-error.js';

export type MailTransportConfig =
  | { kind: 'smtp'; url: string }
  | { kind: 'postmark'; token: string }
  | { kind: 'none' };

export interface MailConfig {
  transport: MailTransportConfig;
  from: string;
  /** The dev mailbox page is served (to loopback clients only). */
  devMailbox: boolean;
}

export interface MailEnvironment {
  SMTP_URL?: string | undefined;
  POSTMARK_TOKEN?: string | undefined;
  MAIL_FROM?: string | undefined;
  EMISAR_DEV_MAILBOX?: string | undefined;
}

const LOOPBACK_HOSTS = new Set(['127.0.0.1', '::1', 'localhost']);

export function isLoopbackHost(host: string): boolean {
  return LOOPBACK_HOSTS.has(host) || host.startsWith('127.');
}

export function parseMailConfig(env: MailEnvironment, listenHost: string): MailConfig {
  if (env.SMTP_URL && env.POSTMARK_TOKEN) {
    throw new ConfigError('set SMTP_URL or POSTMARK_TOKEN, not both');
  }
  let transport: MailTransportConfig = { kind: 'none' };
  if (env.SMTP_URL) {
    let url: URL;
    try {
      url = new URL(env.SMTP_URL);
    } catch {
      throw new ConfigError('SMTP_URL is not a URL (expected smtp:// or smtps://)');
    }
    if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
      throw new ConfigError('SMTP_URL must use smtp:// (STARTTLS) or smtps://');
    }
    transport = { kind: 'smtp', url: env.SMTP_URL };
  } else if (env.POSTMARK_TOKEN) {
    transport = { kind: 'postmark', token: env.POSTMARK_TOKEN };
  }
  const from = env.MAIL_FROM ?? 'emisar <no-reply@localhost>';
  if (transport.kind !== 'none' && !env.MAIL_FROM) {
    throw new ConfigError('MAIL_FROM is required when an email transport is configured');
  }
  const flag = env.EMISAR_DEV_MAILBOX;
  if (flag !== undefined && flag !== '0' && flag !== '1') {
    throw new ConfigError('EMISAR_DEV_MAILBOX must be 0 or 1');
  }
  const devMailbox = flag === '1' || (transport.kind === 'none' && isLoopbackHost(listenHost));
  return { transport, from, devMailbox };
}
