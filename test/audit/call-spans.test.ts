// The daemon's audit spans as a collector receives them: one SERVER span per call,
// named keyward.<Method>, continuing the caller's W3C trace, with the key, version,
// outcome, cache hit and backend — decoded from the real OTLP protobuf over HTTP and
// over gRPC — and none of the plaintext, associated data or DEK bytes in what left.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { OtlpGrpcReceiver } from '../support/otlp-receiver/otlp-grpc-receiver.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import type { OtlpStore } from '../support/otlp-receiver/otlp-store.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const PLAINTEXT = Buffer.from('PLAINTEXT-4111-1111-1111-1111-must-not-leave');
const AAD = Buffer.from('AAD-customer-4242-must-not-leave');

function traceparent(): Record<string, string> {
  return { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01` };
}

function leaks(store: OtlpStore, secrets: Buffer[]): string[] {
  const found: string[] = [];
  for (const request of store.requests) {
    const body = Buffer.from(request.body);
    for (const secret of secrets) {
      for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64'))]) {
        if (body.includes(form)) found.push(`${request.transport}: ${form.toString().slice(0, 24)}…`);
      }
    }
  }
  return found;
}

async function exercise(t: import('ava').ExecutionContext, d: TestDaemon, store: OtlpStore): Promise<void> {
  const metadata = traceparent();
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT, associatedData: AAD }, { metadata });
  const dec = await d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: AAD }, { metadata });
  t.deepEqual(Buffer.from(dec.plaintext), PLAINTEXT);
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: Buffer.from('wrong') }, { metadata }), status.INVALID_ARGUMENT);
  const dk = await d.client.generateDataKey({ keyId: 'beta' }, { metadata });
  await d.client.encryptBatch({ items: [{ keyId: 'alpha', plaintext: PLAINTEXT }, { keyId: 'gamma', plaintext: PLAINTEXT }] });

  const spans = await store.waitForSpans((s) => s.name === 'keyward.EncryptBatch', 10_000);
  t.is(spans.length, 1);
  const named = (name: string) => store.spans.filter((s) => s.name === name);
  const [encrypt] = named('keyward.Encrypt');
  t.truthy(encrypt);
  t.is(encrypt!.kind, 'SERVER');
  t.is(encrypt!.traceId, CALLER_TRACE_ID, "the caller's trace continues");
  t.is(encrypt!.parentSpanId, CALLER_SPAN_ID);
  t.like(encrypt!.attributes, {
    'rpc.system': 'grpc',
    'rpc.service': 'keyward.v1.KeyService',
    'rpc.method': 'Encrypt',
    'rpc.grpc.status_code': 0,
    'keyward.outcome': 'ok',
    'keyward.key.id': 'alpha',
    'keyward.key.version': 1,
    'keyward.backend': 'local',
    'keyward.cache.hit': false,
  });
  t.is(encrypt!.resource['service.name'], 'keyward');
  t.like(encrypt!.attributes, {
    'keyward.peer.pid': process.pid,
    'keyward.peer.uid': process.getuid!(),
    'keyward.peer.gid': process.getgid!(),
    'enduser.id': `uid:${process.getuid!()}`,
  }, 'the caller is identified from SO_PEERCRED');
  const decrypts = named('keyward.Decrypt');
  t.is(decrypts.length, 2);
  const ok = decrypts.find((s) => s.attributes['keyward.outcome'] === 'ok')!;
  t.like(ok.attributes, { 'keyward.key.id': 'alpha', 'keyward.cache.hit': true });
  const failed = decrypts.find((s) => s.attributes['keyward.outcome'] !== 'ok')!;
  t.like(failed.attributes, { 'keyward.outcome': 'INVALID_ARGUMENT', 'rpc.grpc.status_code': status.INVALID_ARGUMENT, 'keyward.key.id': 'alpha' });
  t.is(failed.status.code, 'ERROR');
  t.like(named('keyward.GenerateDataKey')[0]!.attributes, { 'keyward.key.id': 'beta', 'keyward.outcome': 'ok' });
  const batch = spans[0]!;
  t.is(batch.attributes['keyward.batch.size'], 2);
  t.is(batch.attributes['keyward.key.id'], undefined, 'a batch names no single key');
  t.not(batch.traceId, CALLER_TRACE_ID, 'a call without traceparent starts its own trace');
  t.true(encrypt!.events.some((e) => e.name === 'keyward.dek.generated' && e.attributes['keyward.key.id'] === 'alpha'), 'the DEK generation is an event of the call that caused it');
  await d.admin.rotateKey({ keyId: 'gamma' }, { metadata });
  const [rotated] = await store.waitForSpans((s) => s.name === 'keyward.lifecycle.key.rotated');
  t.like(rotated!.attributes, { 'keyward.event': 'key.rotated', key_id: 'gamma', old_version: 1, new_version: 2 });
  const [rotateCall] = await store.waitForSpans((s) => s.name === 'keyward.RotateKey');
  t.is(rotated!.parentSpanId, rotateCall!.spanId, 'the lifecycle span is a child of the admin call');
  t.is(rotateCall!.traceId, CALLER_TRACE_ID);
  t.deepEqual(leaks(store, [PLAINTEXT, AAD, Buffer.from(dk.plaintextKey)]), [], 'no secret in any exported span');
}

/** A collector credential in a 0600 file, as the configuration names it. */
function collectorToken(t: import('ava').ExecutionContext): { token: string; file: string } {
  const dir = makeTempDir('keyward-otlp-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const token = randomBytes(12).toString('hex');
  const file = join(dir, 'collector-token');
  writeFileSync(file, `${token}\n`, { mode: 0o600 });
  return { token, file };
}

test('spans over OTLP HTTP/protobuf, with a header from a file', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const { token, file } = collectorToken(t);
  const d = await startTestDaemon({
    overrides: {
      telemetry: { traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 200, headers: { 'x-collector-token': { file } } } },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  await exercise(t, d, receiver.store);
  t.true(receiver.store.requests.every((r) => r.headers['x-collector-token'] === token));
});

test('spans over OTLP gRPC, with metadata from a file', async (t) => {
  const receiver = await OtlpGrpcReceiver.start();
  const { token, file } = collectorToken(t);
  const d = await startTestDaemon({
    overrides: {
      telemetry: { traces: { protocol: 'grpc', endpoint: receiver.url, export_interval_ms: 200, headers: { 'x-collector-token': { file } } } },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  await exercise(t, d, receiver.store);
  t.true(receiver.store.requests.every((r) => r.headers['x-collector-token'] === token));
});


test('spans over OTLP gRPC to a node-local collector on a Unix socket', async (t) => {
  const dir = makeTempDir('keyward-otlp-sock-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const receiver = await OtlpGrpcReceiver.start({ socketPath: join(dir, 'otlp.sock') });
  const d = await startTestDaemon({ overrides: { telemetry: { traces: { protocol: 'grpc', endpoint: receiver.url, export_interval_ms: 100 } } } });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  t.regex(receiver.url, /^unix:\/\//);
  await d.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT }, { metadata: traceparent() });
  const [span] = await receiver.store.waitForSpans((s) => s.name === 'keyward.Encrypt');
  t.is(span!.traceId, CALLER_TRACE_ID);
});

test('every call is recorded, even when the caller did not sample its trace; times, status and resource are those of an OTLP span', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const d = await startTestDaemon({ overrides: { telemetry: { traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 100 } } } });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  const before = BigInt(Date.now()) * 1_000_000n;
  // Flags 00: the caller's own tracer dropped its span; the audit span is kept anyway.
  const unsampled = { traceparent: `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-00` };
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'nope', plaintext: PLAINTEXT }, { metadata: unsampled }), status.NOT_FOUND);
  const after = BigInt(Date.now()) * 1_000_000n;
  const [span] = await receiver.store.waitForSpans((s) => s.name === 'keyward.Encrypt', 10_000);
  t.is(span!.traceId, CALLER_TRACE_ID);
  t.is(span!.parentSpanId, CALLER_SPAN_ID);
  t.is(span!.kind, 'SERVER');
  t.deepEqual(span!.status, { code: 'ERROR', message: 'NOT_FOUND' });
  t.true(span!.startTimeUnixNano >= before - 1_000_000n && span!.startTimeUnixNano <= span!.endTimeUnixNano && span!.endTimeUnixNano <= after + 1_000_000n);
  t.like(span!.resource, { 'service.name': 'keyward', 'telemetry.sdk.language': 'nodejs' });
  t.like(span!.scope, { name: 'keyward', version: '0.1.0' });
  t.is(span!.raw.flags & 0xff, 1, 'recorded and exported as sampled');
});
