// Key escrow and recovery (policy §7) end to end: a real daemon over its real admin
// socket. A version lost from the keystore comes back from K shares and decrypts (and
// verifies) what it made; the quarterly check answers VERIFIED; too few, mixed, tampered
// or foreign shares, missing configuration and missing grants fail with their codes; the
// split and combine are chained audit records and spans that name shares only by SHA-256.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { createHash, randomBytes } from 'node:crypto';
import { chmodSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { EscrowCombineResult } from '../../src/wire/gen/keyward/v1/key_admin_service_pb.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const SUBJECT = `uid:${process.getuid!()}`;
const PLAINTEXT = Buffer.from('sealed under alpha v1, before the loss');
const MESSAGE = Buffer.from('signed by signer v1');

/** A fresh 32-byte escrow master key in a 0600 file. */
function masterKeyFile(dir: string, name = 'escrow-master.key'): string {
  const file = join(dir, name);
  writeFileSync(file, randomBytes(32), { mode: 0o600 });
  return file;
}

function tempDir(t: import('ava').ExecutionContext): string {
  const dir = makeTempDir('keyward-escrow-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function escrowDaemon(t: import('ava').ExecutionContext, overrides: Record<string, unknown> = {}): Promise<TestDaemon> {
  const dir = tempDir(t);
  const d = await startTestDaemon({ dir, overrides: { escrow: { master_key_file: masterKeyFile(dir) }, ...overrides } });
  t.teardown(() => d.stop());
  return d;
}

/** What the local keystore format allows: a key file without one of its versions (a partial restore, a lost edit). */
function loseVersion(dir: string, keyId: string, version: number): void {
  const path = join(dir, 'keystore', 'keys', `${keyId}.json`);
  const file = JSON.parse(readFileSync(path, 'utf8')) as { primary_version: number; versions: Array<{ version: number }> };
  if (file.primary_version === version) throw new Error('lose a version that is not the primary');
  file.versions = file.versions.filter((v) => v.version !== version);
  writeFileSync(path, `${JSON.stringify(file, null, 2)}\n`);
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');
const records = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

test('recovery: a version lost from the keystore is imported from K shares; its ciphertexts decrypt and its signatures verify again; split and combine are chained records and spans', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  t.teardown(() => receiver.stop());
  const dir = tempDir(t);
  const auditPath = join(dir, 'audit', 'audit.jsonl');
  const overrides = {
    escrow: { master_key_file: masterKeyFile(dir) },
    audit: { log: { path: auditPath, fsync: 'never' } },
    telemetry: { traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 100 } },
  };
  const first = await startTestDaemon({ dir, overrides });
  const sealed = await first.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT });
  const signed = await first.client.sign({ keyId: 'signer', input: { case: 'message', value: MESSAGE } });
  const alpha = await first.admin.splitKeyEscrow({ keyId: 'alpha', shares: 5, threshold: 3 });
  const signer = await first.admin.splitKeyEscrow({ keyId: 'signer', version: 1, shares: 3, threshold: 2 });
  t.like(alpha, { keyId: 'alpha', version: 1, threshold: 3, total: 5 });
  t.regex(alpha.escrowId, /^[0-9a-f]{32}$/);
  t.deepEqual(alpha.shares.map((s) => s.index), [1, 2, 3, 4, 5]);
  t.deepEqual(alpha.shares.map((s) => s.sha256), alpha.shares.map((s) => sha256(s.share)));
  await first.admin.rotateKey({ keyId: 'alpha' });
  await first.admin.rotateKey({ keyId: 'signer' });
  await first.stop();

  loseVersion(dir, 'alpha', 1);
  loseVersion(dir, 'signer', 1);
  const second = await startTestDaemon({ dir, overrides });
  t.teardown(() => second.stop());
  await rejectsWithCode(t, second.client.decrypt({ ciphertext: sealed.ciphertext }), status.NOT_FOUND, 'key "alpha" has no version 1');
  const alphaShares = (...picks: number[]) => picks.map((i) => alpha.shares[i]!.share);
  await rejectsWithCode(
    t,
    second.admin.combineKeyEscrow({ shares: alphaShares(0, 2, 4), verifyOnly: true }),
    status.NOT_FOUND,
    'key "alpha" has no version 1 to verify the escrow against (combine without verify_only to import it)',
  );

  const imported = await second.admin.combineKeyEscrow({ shares: alphaShares(0, 2, 4) });
  t.like(imported, { escrowId: alpha.escrowId, keyId: 'alpha', version: 1, result: EscrowCombineResult.IMPORTED });
  const { key } = await second.admin.describeKey({ keyId: 'alpha' });
  t.is(key!.primaryVersion, 2, 'the primary version is unchanged');
  t.deepEqual(key!.versions.map((v) => v.version), [1, 2]);
  t.deepEqual(Buffer.from((await second.client.decrypt({ ciphertext: sealed.ciphertext })).plaintext), PLAINTEXT);
  t.is((await second.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT })).keyVersion, 2, 'new ciphertexts still use the primary');

  const signerImport = await second.admin.combineKeyEscrow({ shares: [signer.shares[2]!.share, signer.shares[0]!.share] });
  t.is(signerImport.result, EscrowCombineResult.IMPORTED);
  const verified = await second.client.verify({ keyId: 'signer', keyVersion: 1, input: { case: 'message', value: MESSAGE }, signature: signed.signature });
  t.true(verified.valid, 'a signature of the recovered private key verifies');

  const check = await second.admin.combineKeyEscrow({ shares: alphaShares(1, 3, 4), verifyOnly: true });
  t.is(check.result, EscrowCombineResult.VERIFIED, 'the quarterly check with other shares');
  const again = await second.admin.combineKeyEscrow({ shares: alphaShares(0, 1, 2, 3) });
  t.is(again.result, EscrowCombineResult.VERIFIED, 'importing what is there already only verifies it');

  const [splitSpan] = await receiver.store.waitForSpans((s) => s.name === 'keyward.lifecycle.escrow.split' && s.attributes['key_id'] === 'alpha');
  const [splitCall] = await receiver.store.waitForSpans((s) => s.name === 'keyward.SplitKeyEscrow' && s.attributes['keyward.key.id'] === 'alpha');
  t.like(splitSpan!.attributes, { 'keyward.event': 'escrow.split', key_version: 1, escrow_id: alpha.escrowId, shares: 5, threshold: 3, actor: SUBJECT });
  t.is(splitSpan!.parentSpanId, splitCall!.spanId, 'the lifecycle span is a child of the admin call');
  await receiver.store.waitForSpans((s) => s.name === 'keyward.lifecycle.escrow.combined', 10_000, 4);
  await second.stop();

  const verdict = await verifyAuditChain([auditPath]);
  t.true(verdict.ok, JSON.stringify(verdict));
  const all = records(auditPath);
  const splits = all.filter((r) => r['event'] === 'escrow.split');
  t.deepEqual(splits[0], {
    ...splits[0],
    key_id: 'alpha',
    key_version: 1,
    key_type: 'aes-256-gcm',
    backend: 'local',
    escrow_id: alpha.escrowId,
    shares: 5,
    threshold: 3,
    share_fingerprints: alpha.shares.map((s) => s.sha256).join(','),
    actor: SUBJECT,
  });
  t.like(splits[1], { key_id: 'signer', key_version: 1, key_type: 'ed25519', escrow_id: signer.escrowId });
  const combined = all.filter((r) => r['event'] === 'escrow.combined');
  t.deepEqual(combined.map((r) => [r['key_id'], r['key_version'], r['result'], r['shares_used']]), [
    ['alpha', 1, 'imported', 3],
    ['signer', 1, 'imported', 2],
    ['alpha', 1, 'verified', 3],
    ['alpha', 1, 'verified', 4],
  ]);
  t.like(combined[0], { escrow_id: alpha.escrowId, actor: SUBJECT, mode: 'online', share_fingerprints: [0, 2, 4].map((i) => alpha.shares[i]!.sha256).join(',') });
  const calls = all.filter((r) => r['event'] === 'key.operation' && String(r['operation']).includes('KeyEscrow'));
  t.deepEqual(calls.map((r) => [r['operation'], r['key_id'], r['outcome']]).slice(-2), [
    ['CombineKeyEscrow', 'alpha', 'ok'],
    ['CombineKeyEscrow', 'alpha', 'ok'],
  ]);
  t.true(calls.some((r) => r['operation'] === 'CombineKeyEscrow' && r['outcome'] === 'NOT_FOUND'), 'the refused verification is recorded too');

  const file = readFileSync(auditPath);
  const exported = receiver.store.requests.map((r) => Buffer.from(r.body));
  const leaks: string[] = [];
  for (const share of [...alpha.shares, ...signer.shares].map((s) => Buffer.from(s.share))) {
    for (const form of [share, Buffer.from(share.toString('hex')), Buffer.from(share.toString('base64'))]) {
      if (file.includes(form)) leaks.push('a share in the audit log');
      if (exported.some((body) => body.includes(form))) leaks.push('a share in an exported span');
    }
  }
  t.deepEqual(leaks, []);

  const third = await startTestDaemon({ dir, overrides: { escrow: overrides.escrow } });
  t.teardown(() => third.stop());
  t.deepEqual(Buffer.from((await third.client.decrypt({ ciphertext: sealed.ciphertext })).plaintext), PLAINTEXT, 'the import is in the keystore file');
});

test('the quarterly check on an intact key is VERIFIED; too few, mixed, repeated or tampered shares and bad bounds are refused with their codes', async (t) => {
  const d = await escrowDaemon(t);
  const a = await d.admin.splitKeyEscrow({ keyId: 'hmac', version: 0, shares: 4, threshold: 3 });
  const b = await d.admin.splitKeyEscrow({ keyId: 'hmac', version: 0, shares: 4, threshold: 3 });
  t.not(a.escrowId, b.escrowId);
  const shares = a.shares.map((s) => s.share);
  const check = await d.admin.combineKeyEscrow({ shares: shares.slice(1), verifyOnly: true });
  t.like(check, { keyId: 'hmac', version: 1, result: EscrowCombineResult.VERIFIED });

  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: shares.slice(0, 2), verifyOnly: true }), status.INVALID_ARGUMENT, `escrow ${a.escrowId} needs 3 of its 4 shares but got 2`);
  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: [shares[0]!, shares[1]!, b.shares[2]!.share] }), status.INVALID_ARGUMENT, /^shares\[2\] belongs to escrow /);
  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: [shares[0]!, shares[1]!, shares[1]!] }), status.INVALID_ARGUMENT, 'shares[2] is a share already given (share 2)');
  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: [] }), status.INVALID_ARGUMENT, 'shares is required');
  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: [Buffer.from('not a share')] }), status.INVALID_ARGUMENT, /^shares\[0\] is not a keyward escrow share/);
  const tampered = Buffer.from(shares[0]!);
  tampered[tampered.byteLength - 10]! ^= 0x40;
  await rejectsWithCode(t, d.admin.combineKeyEscrow({ shares: [tampered, shares[1]!, shares[2]!], verifyOnly: true }), status.INVALID_ARGUMENT, 'decryption failed');

  for (const [shareCount, threshold, message] of [
    [1, 1, 'shares must be 2-16 but is 1'],
    [17, 2, 'shares must be 2-16 but is 17'],
    [3, 1, 'threshold must be 2-3 (at most shares) but is 1'],
    [3, 4, 'threshold must be 2-3 (at most shares) but is 4'],
  ] as const) {
    await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'alpha', shares: shareCount, threshold }), status.INVALID_ARGUMENT, message);
  }
  await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'alpha', version: 9, shares: 2, threshold: 2 }), status.NOT_FOUND, 'key "alpha" has no version 9');
  await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'nope', shares: 2, threshold: 2 }), status.NOT_FOUND);
});

test('shares combined on a daemon with another escrow master key: the one opaque error', async (t) => {
  const here = await escrowDaemon(t);
  const split = await here.admin.splitKeyEscrow({ keyId: 'beta', shares: 2, threshold: 2 });
  const elsewhere = await escrowDaemon(t);
  const shares = split.shares.map((s) => s.share);
  await rejectsWithCode(t, elsewhere.admin.combineKeyEscrow({ shares, verifyOnly: true }), status.INVALID_ARGUMENT, 'decryption failed');
  await rejectsWithCode(t, elsewhere.admin.combineKeyEscrow({ shares }), status.INVALID_ARGUMENT, 'decryption failed');
});

test('escrow not configured: FAILED_PRECONDITION for split and combine', async (t) => {
  const configured = await escrowDaemon(t);
  const { shares } = await configured.admin.splitKeyEscrow({ keyId: 'gamma', shares: 2, threshold: 2 });
  const dir = tempDir(t);
  const plain = await startTestDaemon({ dir });
  t.teardown(() => plain.stop());
  const message = 'key escrow is not configured on this daemon (set escrow.master_key_file)';
  await rejectsWithCode(t, plain.admin.splitKeyEscrow({ keyId: 'gamma', shares: 2, threshold: 2 }), status.FAILED_PRECONDITION, message);
  await rejectsWithCode(t, plain.admin.combineKeyEscrow({ shares: shares.map((s) => s.share) }), status.FAILED_PRECONDITION, message);
});

test('the escrow operation: key-admin does not grant it, key-escrow-officer does, and a denial does not depend on the key existing', async (t) => {
  const d = await escrowDaemon(t, {
    authorization: {
      rules: [
        { name: 'admins', match: { uid: 'self' }, keys: ['*'], roles: ['key-admin', 'key-user-encrypt', 'key-user-decrypt'] },
        { name: 'escrow-officers', match: { uid: 'self' }, keys: ['alpha'], roles: ['key-escrow-officer'] },
      ],
    },
  });
  await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'beta', shares: 2, threshold: 2 }), status.PERMISSION_DENIED, 'permission denied');
  await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'no-such-key', shares: 2, threshold: 2 }), status.PERMISSION_DENIED, 'permission denied');
  const split = await d.admin.splitKeyEscrow({ keyId: 'alpha', shares: 2, threshold: 2 });
  t.is((await d.admin.combineKeyEscrow({ shares: split.shares.map((s) => s.share), verifyOnly: true })).result, EscrowCombineResult.VERIFIED);
  t.is((await d.admin.rotateKey({ keyId: 'beta' })).key?.primaryVersion, 2, 'key-admin still rotates');
});

test('the master key file: refused when group-readable (also behind a link) or not a 32-byte regular file', async (t) => {
  const dir = tempDir(t);
  const file = masterKeyFile(dir);
  chmodSync(file, 0o640);
  const open = await t.throwsAsync(startTestDaemon({ dir, overrides: { escrow: { master_key_file: file } } }));
  t.true(isKeywardError(open, 'failed-precondition'));
  t.is(open!.message, `escrow.master_key_file ${file} is readable by group or others (mode 640); chmod 600 it`);
  chmodSync(file, 0o600);
  writeFileSync(file, Buffer.alloc(31, 1));
  const short = await t.throwsAsync(startTestDaemon({ dir, overrides: { escrow: { master_key_file: file } } }));
  t.regex(short!.message, /must hold exactly 32 raw bytes .*not 31$/);
  // A Kubernetes Secret file is a link into ..data/: followed, and the file reached is
  // what is checked — a link to a group-readable file is refused.
  const target = masterKeyFile(dir, 'escrow-real.key');
  const link = join(dir, 'escrow-link.key');
  symlinkSync(target, link);
  const viaLink = await startTestDaemon({ dir, overrides: { escrow: { master_key_file: link } } });
  await viaLink.stop();
  chmodSync(target, 0o644);
  const loose = await t.throwsAsync(startTestDaemon({ dir, overrides: { escrow: { master_key_file: link } } }));
  t.is(loose!.message, `escrow.master_key_file ${link} is readable by group or others (mode 644); chmod 600 it`);
  // A directory is not a key file.
  const notFile = await t.throwsAsync(startTestDaemon({ dir, overrides: { escrow: { master_key_file: dir } } }));
  t.true(isKeywardError(notFile, 'failed-precondition'));
  t.is(notFile!.message, `escrow.master_key_file ${dir} is not a regular file`);
});
