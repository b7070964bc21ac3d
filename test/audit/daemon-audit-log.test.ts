// The daemon's local audit log end to end: every data-plane and admin call leaves one
// hash-chained record with operation, key, version and outcome; the chain verifies
// after shutdown; and no plaintext, associated data or data key reaches the file.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

const PLAINTEXT = Buffer.from('PLAINTEXT-audit-secret-5500-0000-0000-0004');
const AAD = Buffer.from('AAD-audit-tenant-991');

test('every call leaves one chained record; the chain verifies; nothing secret is in it', async (t) => {
  const dir = makeTempDir();
  const path = join(dir, 'audit', 'keyward-audit.jsonl');
  const d = await startTestDaemon({ dir, overrides: { audit: { log: { path, fsync: 'every-record' } } } });
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT, associatedData: AAD });
  await d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: AAD });
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: enc.ciphertext }), status.INVALID_ARGUMENT);
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'signer', plaintext: PLAINTEXT }), status.FAILED_PRECONDITION);
  const dk = await d.client.generateDataKey({ keyId: 'beta', associatedData: AAD });
  await d.admin.rotateKey({ keyId: 'gamma' });
  await d.stop();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));

  const verdict = await verifyAuditChain([path]);
  t.true(verdict.ok, JSON.stringify(verdict));
  const records = readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  const operations = records.filter((r) => r['event'] === 'key.operation');
  t.is(operations.length, 6);
  t.deepEqual(
    operations.map((r) => [r['plane'], r['operation'], r['key_id'], r['outcome']]),
    [
      ['data', 'Encrypt', 'alpha', 'ok'],
      ['data', 'Decrypt', 'alpha', 'ok'],
      ['data', 'Decrypt', 'alpha', 'INVALID_ARGUMENT'],
      ['data', 'Encrypt', 'signer', 'FAILED_PRECONDITION'],
      ['data', 'GenerateDataKey', 'beta', 'ok'],
      ['admin', 'RotateKey', 'gamma', 'ok'],
    ],
  );
  t.is(operations[0]!['key_version'], 1);
  t.like(operations[0], { peer_pid: process.pid, peer_uid: process.getuid!(), peer_gid: process.getgid!() }, 'the caller, from SO_PEERCRED');
  t.is(operations[0]!['dek_generated'], true, 'the first Encrypt made the DEK');
  t.is(operations[1]!['dek_generated'], undefined);
  t.is(operations[5]!['key_version'], 2, 'the rotation records the new primary version');
  const rotated = records.find((r) => r['event'] === 'key.rotated');
  t.like(rotated, { key_id: 'gamma', backend: 'local', old_version: 1, new_version: 2 });
  const generated = records.filter((r) => r['event'] === 'key.generated').map((r) => r['key_id']);
  t.deepEqual(generated.sort(), ['alpha', 'beta', 'gamma', 'hmac', 'signer'], 'every key generated at first start is recorded');
  t.is(records.length, 12, 'five keys generated, six calls, one rotation');
  const file = readFileSync(path);
  for (const secret of [PLAINTEXT, AAD, Buffer.from(dk.plaintextKey)]) {
    for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64'))]) {
      t.false(file.includes(form), `audit log holds ${form.toString().slice(0, 16)}…`);
    }
  }
});
