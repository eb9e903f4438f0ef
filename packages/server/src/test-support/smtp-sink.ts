import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  messages: ParsedMail[];
  /** Resolves with the next message to `to` not taken yet (and whose text contains `containing`). */
  next(to: string, containing?: string): Promise<ParsedMail>;
  close(): Promise<void>;
}

/** A real SMTP server on a loopback port that parses what it receives. */
export async function startSmtpSink(): Promise<SmtpSink> {
  const messages: ParsedMail[] = [];
  const taken = new Set<ParsedMail>();
  const waiters: (() => void)[] = [];
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS', 'AUTH'],
    logger: false,
    onData(stream, _session, callback) {
      simpleParser(stream).then(
        (mail) => {
          messages.push(mail);
          for (const wake of waiters.splice(0)) wake();
          callback();
        },
        (error: Error) => callback(error),
      );
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.server.address() as { port: number };
  const recipientOf = (mail: ParsedMail) =>
    (Array.isArray(mail.to) ? mail.to : [mail.to])
      .flatMap((a) => a?.value ?? [])
      .map((v) => v.address);

  return {
    url: `smtp://127.0.0.1:${port}`,
    messages,
    async next(to, containing) {
      const wanted = (m: ParsedMail) =>
        !taken.has(m) &&
        recipientOf(m).includes(to) &&
        (containing === undefined || (m.text ?? '').includes(containing));
      for (;;) {
        const found = messages.find(wanted);
        if (found) {
          taken.add(found);
          return found;
        }
        await new Promise<void>((resolve) => waiters.push(resolve));
      }
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** The six-character code from a sign-in email, checking the link carries it in the fragment. */
export function signInCodeFrom(text: string, baseUrl: string): string {
  const code = /sign-in code is ([2-9A-Z]{6})/.exec(text)?.[1];
  if (!code) throw new Error('no sign-in code in the email');
  if (!text.includes(`${baseUrl}/sign_in/code#${code}`))
    throw new Error('link does not carry the code in the fragment');
  return code;
}

/** The secret after `#` in the first link to `page`. */
export function fragmentSecretFrom(text: string, page: string): string {
  const match = new RegExp(`${page}#([A-Za-z0-9_-]+)`).exec(text);
  if (!match) throw new Error(`no ${page} link in the email`);
  return match[1]!;
}
