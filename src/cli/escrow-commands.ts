// `keyward keys escrow-split` and `keyward keys escrow-combine` (policy §7, docs/escrow.md):
// the share holders' side of key escrow. A split writes one file per share (0600, the
// share's bytes as the daemon made them, so `sha256sum` of a file is the fingerprint the
// audit record lists) and never overwrites a file — checked before the daemon splits, so
// a refused run leaves no escrow behind; a combine reads share files back.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError, type Command, type Option } from 'commander';
import { createKeyAdminClient } from '../client/keyward-client.js';
import { EscrowCombineResult } from '../wire/gen/keyward/v1/key_admin_service_pb.js';

function wholeNumber(value: string): number {
  if (!/^\d{1,9}$/.test(value)) throw new InvalidArgumentError('expected a whole number');
  return Number(value);
}

const print = (value: unknown) => process.stdout.write(`${JSON.stringify(value, null, 2)}\n`);

/** The files of a split's shares (index 1..total), none of which may exist yet. */
function newShareFiles(dir: string, keyId: string, version: number, total: number): string[] {
  const files = Array.from({ length: total }, (_, i) => join(dir, `${keyId}-v${version}-share-${i + 1}-of-${total}.kwshare`));
  const taken = files.filter((f) => existsSync(f));
  if (taken.length > 0) throw new Error(`refusing to overwrite ${taken.join(', ')}; nothing was split: choose another --out`);
  return files;
}

export function registerEscrowCommands(keys: Command, adminSocketOption: () => Option): void {
  keys
    .command('escrow-split <key-id>')
    .description('split a key version into escrow shares, one file per share holder (docs/escrow.md)')
    .requiredOption('--shares <n>', 'N: how many shares to make (2-16)', wholeNumber)
    .requiredOption('--threshold <k>', 'K: how many shares recover the key (2-N)', wholeNumber)
    .requiredOption('--out <dir>', 'where to write the share files (created 0700)')
    .option('--version <v>', 'the key version (default: the primary)', wholeNumber, 0)
    .addOption(adminSocketOption())
    .action(async (keyId: string, opts: { shares: number; threshold: number; out: string; version: number; adminSocket: string }) => {
      const client = createKeyAdminClient(opts.adminSocket);
      try {
        const version = opts.version || ((await client.describeKey({ keyId })).key?.primaryVersion ?? 0);
        const files = newShareFiles(opts.out, keyId, version, opts.shares);
        // Made before the split: shares the daemon recorded must have somewhere to go.
        mkdirSync(opts.out, { recursive: true, mode: 0o700 });
        const res = await client.splitKeyEscrow({ keyId, version, shares: opts.shares, threshold: opts.threshold });
        try {
          res.shares.forEach((s, i) => writeFileSync(files[i]!, s.share, { mode: 0o600, flag: 'wx' }));
          const shares = res.shares.map((s, i) => ({ index: s.index, file: files[i], sha256: s.sha256 }));
          print({ escrowId: res.escrowId, keyId: res.keyId, version: res.version, threshold: res.threshold, total: res.total, shares });
        } finally {
          for (const s of res.shares) s.share.fill(0);
        }
      } finally {
        client.close();
      }
    });

  keys
    .command('escrow-combine <files...>')
    .description('combine share files: import the key version they hold, or check it (--verify-only)')
    .option('--verify-only', 'only check that the keystore holds the same key material (quarterly check)')
    .addOption(adminSocketOption())
    .action(async (files: string[], opts: { verifyOnly?: boolean; adminSocket: string }) => {
      const shares = files.map((f) => readFileSync(f));
      const client = createKeyAdminClient(opts.adminSocket);
      try {
        const res = await client.combineKeyEscrow({ shares, verifyOnly: opts.verifyOnly === true });
        const result = res.result === EscrowCombineResult.VERIFIED ? 'verified' : 'imported';
        print({ escrowId: res.escrowId, keyId: res.keyId, version: res.version, result });
      } finally {
        client.close();
        for (const share of shares) share.fill(0);
      }
    });
}
