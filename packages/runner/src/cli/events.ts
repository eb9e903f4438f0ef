import { createReadStream, watch } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import type { Command } from 'commander';
import { requireJournalPath } from '../config/config.js';
import { CliError, configFor, EXIT_FAILURE, EXIT_USAGE, print } from './common.js';

async function* lines(path: string): AsyncGenerator<string> {
  const input = createReadStream(path);
  input.on('error', () => {});
  try {
    for await (const line of createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }))
      yield line;
  } catch (error) {
    throw new CliError(`cannot read ${path}: ${(error as Error).message}`);
  }
}

export function registerEventsCommands(program: Command): void {
  const events = program.command('events').description('read the local journal (JSON Lines)');

  events
    .command('cat')
    .description('print the whole journal')
    .action(async (_opts: unknown, command: Command) => {
      const path = requireJournalPath(await configFor(command));
      for await (const line of lines(path)) print(line);
    });

  events
    .command('grep')
    .description('print journal lines containing a text (or matching --regex)')
    .argument('<text>')
    .option('--regex', 'treat the text as a JavaScript regular expression')
    .action(async (text: string, opts: { regex?: boolean }, command: Command) => {
      const path = requireJournalPath(await configFor(command));
      let test: (line: string) => boolean;
      if (opts.regex) {
        let re: RegExp;
        try {
          re = new RegExp(text);
        } catch {
          throw new CliError('invalid --regex', EXIT_USAGE);
        }
        test = (line) => re.test(line);
      } else test = (line) => line.includes(text);
      let found = 0;
      for await (const line of lines(path)) {
        if (test(line)) {
          found += 1;
          print(line);
        }
      }
      if (found === 0) process.exitCode = EXIT_FAILURE;
    });

  events
    .command('tail')
    .description('print the last lines; -f keeps following')
    .option('-n, --lines <n>', 'how many', '10')
    .option('-f, --follow', 'keep printing new lines')
    .action(async (opts: { lines: string; follow?: boolean }, command: Command) => {
      const path = requireJournalPath(await configFor(command));
      const count = Number(opts.lines);
      if (!Number.isSafeInteger(count) || count < 0)
        throw new CliError('-n needs a count', EXIT_USAGE);
      const last: string[] = [];
      for await (const line of lines(path)) {
        last.push(line);
        if (last.length > count) last.shift();
      }
      for (const line of last) print(line);
      if (!opts.follow) return;
      let offset = (await stat(path).catch(() => ({ size: 0 }))).size;
      let partial = '';
      const readMore = async () => {
        const size = (await stat(path).catch(() => ({ size: 0 }))).size;
        if (size < offset) offset = 0; // rotated
        if (size === offset) return;
        const handle = await open(path, 'r');
        const buffer = Buffer.alloc(size - offset);
        await handle.read(buffer, 0, buffer.length, offset);
        await handle.close();
        offset = size;
        const text = partial + buffer.toString('utf8');
        const parts = text.split('\n');
        partial = parts.pop() ?? '';
        for (const line of parts) print(line);
      };
      watch(path, () => void readMore());
      setInterval(() => void readMore(), 1000);
      await new Promise(() => {});
    });
}
