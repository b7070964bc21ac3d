// `keyward keys escrow-split` and `escrow-combine` as an operator runs them: a child
// process against a real daemon's admin socket. One 0600 file per share whose SHA-256 is
// the fingerprint the daemon reported; an existing share file is never overwritten; share
// files combine back (the quarterly check).
import test from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { runKeyward as run } from '../support/keyward-process.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

test('escrow-split writes 0600 share files and refuses to overwrite them; escrow-combine --verify-only reads them back', async (t) => {
  const dir = makeTempDir('keyward-escrow-cli-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 'escrow.key'), randomBytes(32), { mode: 0o600 });
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({ dir, overrides: { escrow: { master_key_file: join(dir, 'escrow.key') }, audit: { log: { path: auditPath } } } });
  t.teardown(() => d.stop());
  const out = join(dir, 'shares');
  const socket = ['--admin-socket', d.adminSocketPath];

  const split = await run(['keys', 'escrow-split', 'beta', '--shares', '3', '--threshold', '2', '--out', out, ...socket]);
  t.is(split.code, 0, split.stderr);
  const report = JSON.parse(split.stdout) as { escrowId: string; keyId: string; version: number; shares: Array<{ index: number; file: string; sha256: string }> };
  t.like(report, { keyId: 'beta', version: 1, threshold: 2, total: 3 });
  t.deepEqual(report.shares.map((s) => s.file), [1, 2, 3].map((i) => join(out, `beta-v1-share-${i}-of-3.kwshare`)));
  for (const share of report.shares) {
    t.is(statSync(share.file).mode & 0o777, 0o600);
    t.is(createHash('sha256').update(readFileSync(share.file)).digest('hex'), share.sha256, 'sha256sum of the file is the fingerprint');
  }

  const before = readFileSync(report.shares[0]!.file);
  const again = await run(['keys', 'escrow-split', 'beta', '--shares', '3', '--threshold', '2', '--out', out, ...socket]);
  t.is(again.code, 1);
  t.regex(again.stderr, /^keyward: refusing to overwrite .*beta-v1-share-1-of-3\.kwshare.*nothing was split/);
  t.deepEqual(readFileSync(report.shares[0]!.file), before);
  t.is(readdirSync(out).length, 3);

  const combine = await run(['keys', 'escrow-combine', report.shares[2]!.file, report.shares[0]!.file, '--verify-only', ...socket]);
  t.is(combine.code, 0, combine.stderr);
  t.deepEqual(JSON.parse(combine.stdout), { escrowId: report.escrowId, keyId: 'beta', version: 1, result: 'verified' });

  const tooFew = await run(['keys', 'escrow-combine', report.shares[1]!.file, ...socket]);
  t.is(tooFew.code, 1);
  t.regex(tooFew.stderr, /needs 2 of its 3 shares but got 1/);

  // An --out that cannot be made (a regular file on its path): refused before the split.
  writeFileSync(join(dir, 'blocker'), '');
  const noDir = await run(['keys', 'escrow-split', 'beta', '--shares', '3', '--threshold', '2', '--out', join(dir, 'blocker', 'shares'), ...socket]);
  t.is(noDir.code, 1);
  t.regex(noDir.stderr, /ENOTDIR/);

  await d.stop();
  const events = readFileSync(auditPath, 'utf8').trimEnd().split('\n').map((l) => (JSON.parse(l) as { event: string }).event);
  t.deepEqual(events.filter((e) => e.startsWith('escrow.')), ['escrow.split', 'escrow.combined'], 'the refused splits left no escrow behind');
});
