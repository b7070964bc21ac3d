// Tests of the test OTLP receivers (test/support/otlp-receiver/) against the real
// OpenTelemetry JS SDK exporters: a SERVER span with a CLIENT child and a counter and a
// histogram go out over OTLP/HTTP-protobuf, OTLP/gRPC on TCP and OTLP/gRPC on a Unix
// socket; the receivers decode the actual protobuf and the tests assert names,
// attributes, resource, parent/child link, the trace id propagated from a W3C
// traceparent, and metric points. Also: stop/start (an outage), injected failures, and
// the HTTP receiver's refusals.
import { context, SpanKind, SpanStatusCode, trace, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type PushMetricExporter } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, SimpleSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { create, toBinary } from '@bufbuild/protobuf';
import { credentials, Metadata, status } from '@grpc/grpc-js';
import test, { type ExecutionContext } from 'ava';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { sleep } from '../support/deferred.js';
import { ExportTraceServiceRequestSchema } from '../support/otlp-receiver/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { OtlpGrpcReceiver } from '../support/otlp-receiver/otlp-grpc-receiver.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import type { OtlpStore } from '../support/otlp-receiver/otlp-store.js';

// A caller's W3C trace context, as it would arrive in gRPC metadata.
const CALLER_TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const CALLER_SPAN_ID = '00f067aa0ba902b7';
const TRACEPARENT = `00-${CALLER_TRACE_ID}-${CALLER_SPAN_ID}-01`;

const RESOURCE = resourceFromAttributes({
  [ATTR_SERVICE_NAME]: 'keyward',
  [ATTR_SERVICE_VERSION]: '0.1.0',
  'host.name': 'node-7',
  'keyward.instance.labels': ['a', 'b'],
});

const metadataGetter: TextMapGetter<Record<string, string>> = {
  keys: (carrier) => Object.keys(carrier),
  get: (carrier, key) => carrier[key],
};

/** One keyward-shaped call: a SERVER span continuing the caller's trace, a CLIENT child, an event. */
function emitCall(provider: TracerProvider): { serverSpanId: string; childSpanId: string } {
  const tracer = provider.getTracer('keyward', '0.1.0');
  const callerContext = new W3CTraceContextPropagator().extract(context.active(), { traceparent: TRACEPARENT }, metadataGetter);
  const server = tracer.startSpan(
    'keyward.Encrypt',
    {
      kind: SpanKind.SERVER,
      attributes: {
        'rpc.system': 'grpc',
        'rpc.service': 'keyward.v1.KeyService',
        'rpc.method': 'Encrypt',
        'keyward.key.id': 'payments-db',
        'keyward.key.version': 3,
        'keyward.cache.hit': false,
        'keyward.outcome': 'ok',
        'keyward.peer.uid': 1000,
        'keyward.latency_ratio': 0.25,
      },
    },
    callerContext,
  );
  const child = tracer.startSpan(
    'vault.transit.datakey',
    { kind: SpanKind.CLIENT, attributes: { 'keyward.backend': 'vault', 'http.response.status_code': 200 } },
    trace.setSpan(callerContext, server),
  );
  child.addEvent('retry', { 'keyward.attempt': 2 });
  child.end();
  server.setAttribute('rpc.grpc.status_code', 0);
  server.setStatus({ code: SpanStatusCode.OK });
  server.end();
  return { serverSpanId: server.spanContext().spanId, childSpanId: child.spanContext().spanId };
}

async function assertCall(t: ExecutionContext, store: OtlpStore, ids: { serverSpanId: string; childSpanId: string }, transport: 'http' | 'grpc') {
  const [server] = await store.waitForSpans((s) => s.spanId === ids.serverSpanId);
  const [child] = await store.waitForSpans((s) => s.spanId === ids.childSpanId);
  t.is(server!.name, 'keyward.Encrypt');
  t.is(server!.kind, 'SERVER');
  t.is(server!.transport, transport);
  t.is(server!.traceId, CALLER_TRACE_ID, "the caller's trace id from traceparent");
  t.is(server!.parentSpanId, CALLER_SPAN_ID, "the caller's span is the parent");
  t.deepEqual(server!.attributes, {
    'rpc.system': 'grpc',
    'rpc.service': 'keyward.v1.KeyService',
    'rpc.method': 'Encrypt',
    'keyward.key.id': 'payments-db',
    'keyward.key.version': 3,
    'keyward.cache.hit': false,
    'keyward.outcome': 'ok',
    'keyward.peer.uid': 1000,
    'keyward.latency_ratio': 0.25,
    'rpc.grpc.status_code': 0,
  });
  t.deepEqual(server!.status, { code: 'OK', message: '' });
  t.true(server!.endTimeUnixNano >= server!.startTimeUnixNano && server!.startTimeUnixNano > 0n);
  t.is(child!.name, 'vault.transit.datakey');
  t.is(child!.kind, 'CLIENT');
  t.is(child!.traceId, CALLER_TRACE_ID);
  t.is(child!.parentSpanId, server!.spanId, 'the backend call is a child of the server span');
  t.deepEqual(child!.attributes, { 'keyward.backend': 'vault', 'http.response.status_code': 200 });
  t.deepEqual(
    child!.events.map((e) => [e.name, e.attributes]),
    [['retry', { 'keyward.attempt': 2 }]],
  );
  t.like(server!.resource, { 'service.name': 'keyward', 'service.version': '0.1.0', 'host.name': 'node-7', 'keyward.instance.labels': ['a', 'b'] });
  t.like(server!.scope, { name: 'keyward', version: '0.1.0' });
}

/** A counter and a histogram with keyward-shaped attributes, flushed once. */
async function emitMetrics(exporter: PushMetricExporter): Promise<MeterProvider> {
  const provider = new MeterProvider({ resource: RESOURCE, readers: [new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 })] });
  const meter = provider.getMeter('keyward', '0.1.0');
  const calls = meter.createCounter('keyward.calls', { description: 'calls by method, key and outcome', unit: '{call}' });
  calls.add(1, { 'rpc.method': 'Encrypt', 'keyward.key.id': 'payments-db', 'keyward.outcome': 'ok' });
  calls.add(2, { 'rpc.method': 'Encrypt', 'keyward.key.id': 'payments-db', 'keyward.outcome': 'ok' });
  calls.add(1, { 'rpc.method': 'Decrypt', 'keyward.key.id': 'payments-db', 'keyward.outcome': 'PERMISSION_DENIED' });
  const latency = meter.createHistogram('rpc.server.call.duration', { unit: 's' });
  latency.record(0.002, { 'rpc.method': 'Encrypt' });
  latency.record(0.004, { 'rpc.method': 'Encrypt' });
  await provider.forceFlush();
  return provider;
}

async function assertMetrics(t: ExecutionContext, store: OtlpStore) {
  const [calls] = await store.waitForMetrics((m) => m.name === 'keyward.calls');
  t.is(calls!.type, 'sum');
  t.is(calls!.isMonotonic, true);
  t.is(calls!.temporality, 'CUMULATIVE');
  t.is(calls!.unit, '{call}');
  t.is(calls!.description, 'calls by method, key and outcome');
  const byOutcome = Object.fromEntries(calls!.dataPoints.map((p) => [String(p.attributes['keyward.outcome']), p]));
  t.is(byOutcome['ok']!.value, 3);
  t.deepEqual(byOutcome['ok']!.attributes, { 'rpc.method': 'Encrypt', 'keyward.key.id': 'payments-db', 'keyward.outcome': 'ok' });
  t.is(byOutcome['PERMISSION_DENIED']!.value, 1);
  t.like(calls!.resource, { 'service.name': 'keyward' });
  t.like(calls!.scope, { name: 'keyward', version: '0.1.0' });
  const [latency] = await store.waitForMetrics((m) => m.name === 'rpc.server.call.duration');
  t.is(latency!.type, 'histogram');
  t.is(latency!.dataPoints[0]!.count, 2n);
  t.true(Math.abs(latency!.dataPoints[0]!.sum! - 0.006) < 1e-9);
}

async function traceOnce(exporter: SpanExporter) {
  const provider = new TracerProvider({ resource: RESOURCE, spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  const ids = emitCall(provider);
  await provider.forceFlush();
  return { provider, ids };
}

async function socketDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-otlp-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

test('OTLP/HTTP protobuf: spans and metrics from the SDK exporters are decoded', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  t.teardown(() => receiver.stop());
  const { provider, ids } = await traceOnce(new HttpTraceExporter({ url: receiver.tracesUrl, headers: { 'x-keyward-test': 'http' } }));
  await assertCall(t, receiver.store, ids, 'http');
  const meters = await emitMetrics(new HttpMetricExporter({ url: receiver.metricsUrl }));
  await assertMetrics(t, receiver.store);
  const traces = receiver.store.requests.find((r) => r.signal === 'traces')!;
  t.is(traces.headers['content-type'], 'application/x-protobuf');
  t.is(traces.headers['x-keyward-test'], 'http', 'exporter headers arrive');
  t.true(traces.body.byteLength > 0);
  await provider.shutdown();
  await meters.shutdown();
});

test('OTLP/gRPC on 127.0.0.1: spans and metrics from the SDK exporters are decoded', async (t) => {
  const receiver = await OtlpGrpcReceiver.start();
  t.teardown(() => receiver.stop());
  const metadata = new Metadata();
  metadata.set('x-keyward-test', 'grpc');
  const { provider, ids } = await traceOnce(new GrpcTraceExporter({ url: receiver.url, metadata }));
  await assertCall(t, receiver.store, ids, 'grpc');
  const meters = await emitMetrics(new GrpcMetricExporter({ url: receiver.url }));
  await assertMetrics(t, receiver.store);
  const traces = receiver.store.requests.find((r) => r.signal === 'traces')!;
  t.is(traces.headers['x-keyward-test'], 'grpc', 'exporter metadata arrives');
  t.true(traces.body.byteLength > 0, 'the wire bytes are kept');
  await provider.shutdown();
  await meters.shutdown();
});

test('OTLP/gRPC on a Unix socket (a node-local collector)', async (t) => {
  const socketPath = join(await socketDir(t), 'otlp.sock');
  const receiver = await OtlpGrpcReceiver.start({ socketPath });
  t.teardown(() => receiver.stop());
  t.is(receiver.url, `unix://${socketPath}`);
  const { provider, ids } = await traceOnce(new GrpcTraceExporter({ url: receiver.url, credentials: credentials.createInsecure() }));
  await assertCall(t, receiver.store, ids, 'grpc');
  const meters = await emitMetrics(new GrpcMetricExporter({ url: receiver.url, credentials: credentials.createInsecure() }));
  await assertMetrics(t, receiver.store);
  await provider.shutdown();
  await meters.shutdown();
});

for (const kind of ['http', 'grpc'] as const) {
  test(`${kind} receiver: stopped (an outage) it receives nothing; started again on the same address, export resumes`, async (t) => {
    const receiver = kind === 'http' ? await OtlpHttpReceiver.start() : await OtlpGrpcReceiver.start();
    t.teardown(() => receiver.stop());
    const url = receiver instanceof OtlpHttpReceiver ? receiver.tracesUrl : receiver.url;
    const exporter = kind === 'http' ? new HttpTraceExporter({ url, timeoutMillis: 2_000 }) : new GrpcTraceExporter({ url, timeoutMillis: 2_000 });
    const provider = new TracerProvider({ resource: RESOURCE, spanProcessors: [new BatchSpanProcessor({ exporter, scheduledDelayMillis: 50, exportTimeoutMillis: 2_000 })] });
    const tracer = provider.getTracer('keyward');

    tracer.startSpan('before').end();
    await receiver.store.waitForSpans((s) => s.name === 'before');
    await receiver.stop();
    t.false(receiver.running);
    tracer.startSpan('during').end();
    const outcome = await provider.forceFlush().then(
      () => 'exported',
      (errors: unknown) => errors, // the SDK rejects with the exporters' errors (an array)
    );
    t.not(outcome, 'exported', 'the exporter sees the outage');
    t.regex(JSON.stringify(outcome) + String(outcome), /ECONNREFUSED|UNAVAILABLE/);
    t.deepEqual(
      receiver.store.spans.map((s) => s.name),
      ['before'],
    );
    await receiver.start();
    t.true(receiver.running);
    // The exporter's channel may still be backing off from the refused connection
    // (grpc-js reconnects after ~1 s, then longer): keep sending until one gets through.
    const deadline = performance.now() + 15_000;
    while (!receiver.store.spans.some((s) => s.name === 'after') && performance.now() < deadline) {
      tracer.startSpan('after').end();
      await provider.forceFlush().catch(() => {});
      if (!receiver.store.spans.some((s) => s.name === 'after')) await sleep(200);
    }
    await receiver.store.waitForSpans((s) => s.name === 'after', 1_000);
    await provider.shutdown();
  });
}

test('injected failures: HTTP 503 and gRPC UNAVAILABLE reach the exporter as failed exports', async (t) => {
  const http = await OtlpHttpReceiver.start();
  const grpc = await OtlpGrpcReceiver.start();
  t.teardown(() => Promise.all([http.stop(), grpc.stop()]));
  http.failWith(503, 'collector overloaded');
  grpc.failWith(status.UNAVAILABLE, 'collector overloaded');

  const { InMemorySpanExporter } = await import('@opentelemetry/sdk-trace');
  const memory = new InMemorySpanExporter();
  const provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter: memory })] });
  emitCall(provider);
  const spans = memory.getFinishedSpans();
  t.is(spans.length, 2);
  const exportWith = (exporter: SpanExporter) => new Promise<number>((resolve) => exporter.export(spans, (result) => resolve(result.code)));
  const ExportResultFailed = 1;
  t.is(await exportWith(new HttpTraceExporter({ url: http.tracesUrl, timeoutMillis: 2_000 })), ExportResultFailed);
  t.is(await exportWith(new GrpcTraceExporter({ url: grpc.url, timeoutMillis: 2_000 })), ExportResultFailed);
  t.true(http.refused.some((r) => r.status === 503));
  t.true(grpc.refusedCount >= 1);
  t.is(http.store.spans.length + grpc.store.spans.length, 0);

  http.failWith(undefined);
  grpc.failWith(undefined);
  t.is(await exportWith(new HttpTraceExporter({ url: http.tracesUrl })), 0);
  t.is(await exportWith(new GrpcTraceExporter({ url: grpc.url })), 0);
  t.is(http.store.spans.length, 2);
  t.is(grpc.store.spans.length, 2);
  await provider.shutdown();
});

test('the HTTP receiver decodes gzip bodies and refuses what is not OTLP protobuf', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  t.teardown(() => receiver.stop());
  const request = create(ExportTraceServiceRequestSchema, {
    resourceSpans: [{ scopeSpans: [{ spans: [{ name: 'hand-made', traceId: new Uint8Array(16).fill(1), spanId: new Uint8Array(8).fill(2) }] }] }],
  });
  const body = toBinary(ExportTraceServiceRequestSchema, request);
  const ok = await fetch(receiver.tracesUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-protobuf', 'content-encoding': 'gzip' },
    body: gzipSync(body),
  });
  t.is(ok.status, 200);
  t.is(ok.headers.get('content-type'), 'application/x-protobuf');
  t.is((await ok.arrayBuffer()).byteLength, 0, 'an empty ExportTraceServiceResponse encodes to zero bytes');
  const [span] = await receiver.store.waitForSpans((s) => s.name === 'hand-made');
  t.is(span!.traceId, '01'.repeat(16));
  t.is(span!.parentSpanId, '');
  t.deepEqual(receiver.store.requests[0]!.body, body, 'the decoded body is kept');

  const json = await fetch(receiver.tracesUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  t.is(json.status, 415);
  const garbage = await fetch(receiver.metricsUrl, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body: new Uint8Array([0xff, 0xff, 0xff]) });
  t.is(garbage.status, 400);
  t.is((await fetch(`${receiver.baseUrl}/v1/logs`, { method: 'POST', headers: { 'content-type': 'application/x-protobuf' }, body })).status, 404);
  t.is((await fetch(receiver.tracesUrl)).status, 405);
  t.deepEqual(
    receiver.refused.map((r) => r.status),
    [415, 400, 404, 405],
  );
});

test('waitForSpans times out with what did arrive', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  t.teardown(() => receiver.stop());
  const err = await t.throwsAsync(receiver.store.waitForSpans((s) => s.name === 'never', 100));
  t.regex(err!.message, /timed out after 100 ms .*spans received: none/);
});

