// `keyward audit verify FILES…`: checks the hash chain of local audit log files, for an
// auditor or a cron job. Prints `ok: N records in M files` (exit 0) or the first broken
// link as `broken: <file>:<line>: <reason>` (exit 1); a file it cannot read exits 2.
// main.ts registers it; docs/audit.md documents it.
import { InvalidArgumentError, Option, type Command } from 'commander';
import type { AuditChainHead } from '../audit/audit-record.js';
import { verifyAuditChain } from '../audit/verify-audit-chain.js';
import { isKeywardError } from '../core/keyward-error.js';

/** Exit codes of `keyward audit verify`. */
export const AUDIT_VERIFY_EXIT = { ok: 0, broken: 1, unreadable: 2 } as const;

function parseAnchor(value: string): AuditChainHead {
  const m = /^(\d{1,15}):([0-9a-f]{64})$/.exec(value.trim().toLowerCase());
  if (!m) throw new InvalidArgumentError('expected <seq>:<sha256 hex>, e.g. 1200:3f5a…(64 hex digits)');
  return { seq: Number(m[1]), hash: m[2]! };
}

export function registerAuditCommand(program: Command): Command {
  const audit = program.command('audit').description('the local audit log');
  audit
    .command('verify')
    .description('check the hash chain of audit log files and report the first broken link')
    .argument('<files...>', 'the files oldest first, e.g. audit.log.* audit.log (rotated files sort by their suffix)')
    .addOption(
      new Option('--anchor <seq:sha256>', 'a chain head recorded elsewhere earlier; proves nothing up to it was cut from the end').argParser(parseAnchor),
    )
    .addOption(new Option('--show-head', 'also print the head (seq:sha256 of the last record), to keep as a later anchor'))
    .action(async (files: string[], opts: { anchor?: AuditChainHead; showHead?: boolean }) => {
      try {
        const verdict = await verifyAuditChain(files, opts.anchor === undefined ? {} : { anchor: opts.anchor });
        if (verdict.ok) {
          process.stdout.write(`ok: ${verdict.records} records in ${verdict.files} files\n`);
          if (opts.showHead) process.stdout.write(`head: ${verdict.head.seq}:${verdict.head.hash}\n`);
          process.exitCode = AUDIT_VERIFY_EXIT.ok;
        } else {
          process.stdout.write(`broken: ${verdict.file}:${verdict.line}: ${verdict.reason}\n`);
          process.exitCode = AUDIT_VERIFY_EXIT.broken;
        }
      } catch (err) {
        if (!isKeywardError(err)) throw err;
        process.stderr.write(`keyward audit verify: ${err.message}\n`);
        process.exitCode = AUDIT_VERIFY_EXIT.unreadable;
      }
    });
  return audit;
}
