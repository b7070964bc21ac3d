// A test-only `keyward` entry with just the audit command, so the CLI tests run the real
// command in a child process before main.ts registers it (the same parse as main.ts).
import { Command } from 'commander';
import { registerAuditCommand } from '../../src/cli/audit-command.js';

const program = new Command().name('keyward').showHelpAfterError();
registerAuditCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  process.stderr.write(`keyward: ${(err as Error).message ?? String(err)}\n`);
  process.exit(1);
});
