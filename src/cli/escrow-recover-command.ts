// `keyward keys escrow-recover --config FILE SHARE…` (docs/escrow.md, "Recovery onto a new
// host"): the offline half of key escrow, run on the host itself while its daemon is
// stopped, before the first start there — not a client of the sockets like the other
// `keys` commands, but, like `serve`, a caller of the composition root. Prints the result
// as JSON; an error is `keyward: <code>: <message>` on stderr and exit status 1 (main.ts).
import type { Command } from 'commander';
import { readFileSync } from 'node:fs';
import { pino } from 'pino';
import { recoverEscrowOffline } from '../daemon/offline-escrow-recovery.js';

export function registerEscrowRecoverCommand(keys: Command): void {
  keys
    .command('escrow-recover <files...>')
    .description(
      'offline, with the daemon stopped: combine share files into the keystore of the configuration, creating the key if it has no version yet (a new host, before the first start; docs/escrow.md)',
    )
    .requiredOption('-c, --config <file>', 'the daemon configuration file (YAML): its keys, backends, escrow master key and audit log')
    .addHelpText(
      'after',
      `
Give K or more share files of one escrow (one key version); run once per version.
Refused (failed-precondition) while the daemon of the configuration accepts
connections on its data or admin socket. No authorization rule applies: whoever
can run this holds the keystore and the escrow master key files. The audit record
(escrow.combined, mode offline) names the OS user as actor (uid:<n>).
A key the recovery creates gets the recovered version as primary; recovering
more versions into it makes the highest one primary. Into a key that exists
already, the version is added and the primary stays.`,
    )
    .action(async (files: string[], opts: { config: string }) => {
      const shares = files.map((f) => readFileSync(f));
      try {
        const recovered = await recoverEscrowOffline({
          configFile: opts.config,
          shares,
          logger: (level) => pino({ level, base: { service: 'keyward', pid: process.pid } }, pino.destination({ dest: 2, sync: true })),
        });
        process.stdout.write(`${JSON.stringify(recovered, null, 2)}\n`);
      } finally {
        for (const share of shares) share.fill(0);
      }
    });
}
