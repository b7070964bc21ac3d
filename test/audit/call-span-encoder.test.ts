// The call span encoder against the opentelemetry-proto definitions (protobuf-es code
// generated from the vendored trace.proto): every field it writes decodes to what it
// was given, whichever method and caller come first — the cached parts share one writer
// with the span being written, so first uses are interleaved on purpose.
import test from 'ava';
import { fromBinary } from '@bufbuild/protobuf';
import { CallSpanEncoder } from '../../src/audit/call-span-encoder.js';
import type { CallOutcome } from '../../src/core/call-observer.js';
import type { CallerIdentity } from '../../src/core/caller.js';
import { SpanSchema, Span_SpanKind, Status_StatusCode } from '../support/otlp-receiver/gen/opentelemetry/proto/trace/v1/trace_pb.js';

function attributes(span: ReturnType<typeof decode>): Record<string, unknown> {
  return Object.fromEntries(span.attributes.map((kv) => [kv.key, kv.value?.value.value]));
}

const decode = (bytes: Uint8Array) => fromBinary(SpanSchema, bytes);

const callers: CallerIdentity[] = [
  { peer: { pid: 10, uid: 4_294_967_294, gid: 7 }, subject: 'uid:4294967294' },
  { peer: { pid: 11, uid: 1000, gid: 1000 }, exe: '/app/bin', containerId: 'c'.repeat(64), podUid: '5f0c3e2a-1b2c-4d3e-8f40-0123456789ab', namespace: 'ns', serviceAccount: 'sa', subject: 'system:serviceaccount:ns:sa' },
];

test('spans decode field by field; cached method and caller parts never leak into another span', (t) => {
  const encoder = new CallSpanEncoder('keyward.v1.KeyService');
  const cases = [
    { method: 'Encrypt', caller: callers[0]!, outcome: { code: 0, codeName: 'OK', keyId: 'alpha', keyVersion: 3, backend: 'local', cacheHit: true, dekGenerated: true } },
    { method: 'Decrypt', caller: callers[1]!, outcome: { code: 7, codeName: 'PERMISSION_DENIED', keyId: 'beta', denialReason: 'no rule grants decrypt on key "beta" to x' } },
    { method: 'EncryptBatch', caller: callers[0]!, outcome: { code: 0, codeName: 'OK', batchSize: 250 } },
    { method: 'Encrypt', caller: callers[1]!, outcome: { code: 0, codeName: 'OK', keyId: 'alpha', keyVersion: 3 } },
  ];
  cases.forEach((c, i) => {
    const outcome: CallOutcome = { ...c.outcome, caller: c.caller };
    const parent = i % 2 === 0 ? { parentSpanId: Buffer.alloc(8, 0xee) } : {};
    const span = decode(
      encoder.encode({ method: c.method, ids: Buffer.concat([Buffer.alloc(16, i + 1), Buffer.alloc(8, i + 1)]), ...parent, parentIsRemote: i === 0, traceState: i === 2 ? 'k=v' : undefined, startMicros: 1_795_000_000_123_456 + i, endMicros: 1_795_000_000_223_456 + i, outcome } as never),
    );
    t.is(span.name, `keyward.${c.method}`);
    t.is(span.kind, Span_SpanKind.SERVER);
    t.deepEqual(Buffer.from(span.traceId), Buffer.alloc(16, i + 1));
    t.deepEqual(Buffer.from(span.spanId), Buffer.alloc(8, i + 1));
    t.deepEqual(Buffer.from(span.parentSpanId), i % 2 === 0 ? Buffer.alloc(8, 0xee) : Buffer.alloc(0));
    t.is(span.traceState, i === 2 ? 'k=v' : '');
    t.is(span.startTimeUnixNano, (1_795_000_000_123_456n + BigInt(i)) * 1000n);
    t.is(span.endTimeUnixNano, (1_795_000_000_223_456n + BigInt(i)) * 1000n);
    t.is(span.flags, 0x101 | (i === 0 ? 0x200 : 0));
    const a = attributes(span);
    t.like(a, { 'rpc.system': 'grpc', 'rpc.service': 'keyward.v1.KeyService', 'rpc.method': c.method, 'rpc.grpc.status_code': BigInt(c.outcome.code) });
    t.is(a['enduser.id'], c.caller.subject);
    t.is(a['keyward.peer.uid'], BigInt(c.caller.peer.uid));
    t.is(a['process.executable.path'], c.caller.exe);
    t.is(a['k8s.pod.uid'], c.caller.podUid);
    t.is(a['container.id'], c.caller.containerId);
    t.is(a['keyward.key.id'], c.outcome.keyId);
    t.is(a['keyward.batch.size'], c.outcome.batchSize === undefined ? undefined : BigInt(c.outcome.batchSize));
    t.is(a['keyward.denial.reason'], c.outcome.denialReason);
    t.is(span.status?.code ?? Status_StatusCode.UNSET, c.outcome.code === 0 ? Status_StatusCode.UNSET : Status_StatusCode.ERROR);
    t.is(span.status?.message ?? '', c.outcome.code === 0 ? '' : c.outcome.codeName);
    t.is(span.events.map((e) => e.name).join(), c.outcome.dekGenerated ? 'keyward.dek.generated' : '');
  });
});
