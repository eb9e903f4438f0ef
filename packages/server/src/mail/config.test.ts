import { describe, expect, it } from 'vitest';
import { ConfigError } from '../core/config-error.js';
import { parseMailConfig } from './config.js';

describe('mail configuration', () => {
  it('picks SMTP or Postmark, and the dev mailbox only without a transport on loopback or when asked', () => {
    expect(
      parseMailConfig(
        { SMTP_URL: 'smtps://u:p@mail.example:465', MAIL_FROM: 'ops@example.com' },
        '127.0.0.1',
      ),
    ).toEqual({
      transport: { kind: 'smtp', url: 'smtps://u:p@mail.example:465' },
      from: 'ops@example.com',
      devMailbox: false,
    });
    expect(
      parseMailConfig({ POSTMARK_TOKEN: 't', MAIL_FROM: 'ops@example.com' }, '0.0.0.0').transport,
    ).toEqual({
      kind: 'postmark',
      token: 't',
    });
    expect(parseMailConfig({}, '127.0.0.1').devMailbox).toBe(true);
    expect(parseMailConfig({}, '0.0.0.0').devMailbox).toBe(false);
    expect(parseMailConfig({ EMISAR_DEV_MAILBOX: '1' }, '0.0.0.0').devMailbox).toBe(true);
  });

  it('refuses contradictions without echoing secrets', () => {
    const bad = [
      { SMTP_URL: 'smtp://h', POSTMARK_TOKEN: 'tok-secret', MAIL_FROM: 'a@b.c' },
      { SMTP_URL: 'http://h', MAIL_FROM: 'a@b.c' },
      { SMTP_URL: 'smtp://h' },
      { EMISAR_DEV_MAILBOX: 'yes' },
    ];
    for (const env of bad) {
      const error = (() => {
        try {
          parseMailConfig(env, '127.0.0.1');
        } catch (e) {
          return e;
        }
      })();
      expect(error).toBeInstanceOf(ConfigError);
      expect(String(error)).not.toContain('tok-secret');
    }
  });
});
