import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  url: string;
  messages: ParsedMail[];
  /** Resolves with the next message to `to` that has not been taken yet. */
  next(to: string): Promise<ParsedMail>;
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
    async next(to) {
      for (;;) {
        const found = messages.find((m) => !taken.has(m) && recipientOf(m).includes(to));
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
