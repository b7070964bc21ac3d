// What a refusal leaves behind, and what never reaches the refusal: a malformed key id is
// INVALID_ARGUMENT before the policy (or any log, span or cache) sees it, and batch items
// the policy refuses are counted and explained on the batch's record and metric.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

test('a key id that is not a key id is INVALID_ARGUMENT, before authorization, for a caller granted nothing', async (t) => {
  const d = await startTestDaemon({ overrides: { authorization: { rules: [] } } });
  t.teardown(() => d.dispose());
  for (const keyId of ['k'.repeat(129), 'k'.repeat(1 << 20), 'pay/ments', 'a b', '-leading-dash']) {
    await rejectsWithCode(t, d.client.encrypt({ keyId, plaintext: Buffer.from('x') }), status.INVALID_ARGUMENT, /^key_id is not a key id/);
  }
  // ReEncrypt's destination too, before the policy or the ciphertext is looked at.
  for (const destinationKeyId of ['x'.repeat(200), 'bad id!']) {
    await rejectsWithCode(t, d.client.reEncrypt({ ciphertext: Buffer.from('not looked at'), destinationKeyId }), status.INVALID_ARGUMENT, /^destination_key_id is not a key id/);
  }
  // A well-formed id of a key that does not exist: the policy answers, not the registry.
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'k'.repeat(128), plaintext: Buffer.from('x') }), status.PERMISSION_DENIED, 'permission denied');
});

test('refused batch items: counted on the batch record and span and in keyward.rpc.denied, with the first reason', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const dir = makeTempDir();
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({
    dir,
    overrides: {
      authorization: { rules: [{ name: 'alpha-only', match: { uid: 'self' }, keys: ['alpha'], roles: ['key-user-encrypt'] }] },
      audit: { log: { path: auditPath, fsync: 'every-record' } },
      telemetry: {
        traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 100 },
        metrics: { protocol: 'http', endpoint: receiver.metricsUrl, export_interval_ms: 200 },
      },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  const plaintext = Buffer.from('x');
  const batch = await d.client.encryptBatch({ items: [{ keyId: 'alpha', plaintext }, { keyId: 'beta', plaintext }, { keyId: 'gamma', plaintext }, { keyId: 'alpha', plaintext }] });
  t.deepEqual(
    batch.results.map((r) => (r.result.case === 'error' ? r.result.value.code : 0)),
    [0, status.PERMISSION_DENIED, status.PERMISSION_DENIED, 0],
  );
  t.true(batch.results.every((r) => r.result.case !== 'error' || r.result.value.message === 'permission denied'));

  const [span] = await receiver.store.waitForSpans((s) => s.name === 'keyward.EncryptBatch', 10_000);
  t.like(span!.attributes, { 'keyward.batch.size': 4, 'keyward.batch.denied': 2, 'keyward.outcome': 'ok' });
  t.regex(String(span!.attributes['keyward.denial.reason']), /no rule grants encrypt on key "beta"/);
  const denied = await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.denied' && m.dataPoints.some((p) => p.attributes['rpc.method'] === 'EncryptBatch'), 10_000);
  t.is(denied.at(-1)!.dataPoints.find((p) => p.attributes['rpc.method'] === 'EncryptBatch')?.value, 2);
  await d.stop();
  const record = readFileSync(auditPath, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((r) => r['operation'] === 'EncryptBatch');
  t.like(record, { outcome: 'ok', batch_size: 4, denied_items: 2 });
  t.regex(String(record?.["reason"]), /no rule grants encrypt on key "beta" to uid:\d+ \(rules that apply to it: alpha-only\)/);
});

test('the admin plane checks key ids first too, and a refused name never reaches the audit record', async (t) => {
  const dir = makeTempDir();
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({ dir, overrides: { audit: { log: { path: auditPath, fsync: 'every-record' } } } });
  const long = 'k'.repeat(100_000);
  await rejectsWithCode(t, d.admin.describeKey({ keyId: long }), status.INVALID_ARGUMENT, /^key_id is not a key id/);
  await rejectsWithCode(t, d.admin.rotateKey({ keyId: 'pay/ments' }), status.INVALID_ARGUMENT, /^key_id is not a key id/);
  await d.stop();
  const records = readFileSync(auditPath, 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((r) => r['plane'] === 'admin');
  t.deepEqual(
    records.map((r) => [r['operation'], r['outcome'], r['key_id']]),
    [
      ['DescribeKey', 'INVALID_ARGUMENT', undefined],
      ['RotateKey', 'INVALID_ARGUMENT', undefined],
    ],
  );
});
