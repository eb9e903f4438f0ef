import nodemailer from 'nodemailer';
import type { MailTransportConfig } from './config.js';

export interface OutgoingMail {
  from: string;
  to: string;
  subject: string;
  text: string;
}

/** Delivers one message or throws; the outbox retries with backoff. */
export interface MailTransport {
  readonly name: 'smtp' | 'postmark';
  send(mail: OutgoingMail): Promise<void>;
  close(): void;
}

const POSTMARK_ENDPOINT = 'https://api.postmarkapp.com/email';
const SEND_TIMEOUT_MS = 30_000;

export function createMailTransport(
  config: MailTransportConfig,
  /** Only tests point this elsewhere (a local server): Postmark itself is never called in tests. */
  postmarkEndpoint = POSTMARK_ENDPOINT,
): MailTransport | null {
  switch (config.kind) {
    case 'none':
      return null;
    case 'smtp': {
      const transporter = nodemailer.createTransport(config.url, {
        connectionTimeout: SEND_TIMEOUT_MS,
        socketTimeout: SEND_TIMEOUT_MS,
      });
      return {
        name: 'smtp',
        async send(mail) {
          await transporter.sendMail(mail);
        },
        close: () => transporter.close(),
      };
    }
    case 'postmark':
      return {
        name: 'postmark',
        async send(mail) {
          const response = await fetch(postmarkEndpoint, {
            method: 'POST',
            headers: {
              accept: 'application/json',
              'content-type': 'application/json',
              'x-postmark-server-token': config.token,
            },
            body: JSON.stringify({
              From: mail.from,
              To: mail.to,
              Subject: mail.subject,
              TextBody: mail.text,
              MessageStream: 'outbound',
            }),
            signal: AbortSignal.timeout(SEND_TIMEOUT_MS),
          });
          if (!response.ok) throw new Error(`Postmark answered HTTP ${response.status}`);
        },
        close: () => {},
      };
  }
}
