import type { Command } from 'commander';
import { requireJournalPath } from '../config/config.js';
import { journalFiles, verifyJournalFile } from '../journal/verify.js';
import { configFor, EXIT_FAILURE, globals, print, printJson } from './common.js';

export function registerAuditCommands(program: Command): void {
  program
    .command('audit')
    .description('check the local journal')
    .command('verify')
    .description(
      'recompute the hash chain (and the head file) and report the first break; a privileged user who rewrites the journal and its head consistently is not detectable locally — the control plane audit is the system of record',
    )
    .argument('[path]', 'journal file (default: events.jsonl_path from the config)')
    .option('--all', 'also verify the rotated backups')
    .action(async (path: string | undefined, opts: { all?: boolean }, command: Command) => {
      const target = path ?? requireJournalPath(await configFor(command));
      const reports = [];
      for (const file of await journalFiles(target, opts.all ?? false)) {
        reports.push(await verifyJournalFile(file));
      }
      if (globals(command).json) printJson(reports.length === 1 ? reports[0] : reports);
      else {
        for (const report of reports) {
          if (report.ok) print(`${report.path}: OK (${report.lines} lines, chain and head intact)`);
          else {
            const b = report.break!;
            print(
              `${report.path}: BROKEN at line ${b.line}${b.event_id ? ` (event ${b.event_id})` : ''}: ${b.problem}` +
                (b.expected !== null || b.got !== null
                  ? `\n  expected: ${b.expected}\n  got:      ${b.got}`
                  : ''),
            );
          }
        }
      }
      if (reports.some((report) => !report.ok)) process.exitCode = EXIT_FAILURE;
    });
}
