// The call span queue: spans leave in batches of max_batch, or export_interval_ms after
// the first span of a batch; at most max_queue_size wait (queued or in an unanswered
// export), the rest are dropped and counted; a throwing exporter's spans are counted
// as failed; shutdown sends what is queued and takes nothing more. Batches are checked
// by decoding the request the daemon's serializer makes of them.
import test from 'ava';
import { fromBinary } from '@bufbuild/protobuf';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import { CallSpanEncoder } from '../../src/audit/call-span-encoder.js';
import { CallSpanQueue } from '../../src/audit/call-span-queue.js';
import { encodedTraceSerializer, spanCount } from '../../src/audit/encoded-trace-serializer.js';
import { CountingSpanExporter, SpanExportStats } from '../../src/audit/span-export-accounting.js';
import { ExportTraceServiceRequestSchema } from '../support/otlp-receiver/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';

const serializer = encodedTraceSerializer(resourceFromAttributes({ 'service.name': 'keyward' }), { name: 'keyward', version: 'test' });
const encoder = new CallSpanEncoder('keyward.v1.KeyService');

/** An exporter that keeps what it is given and answers when told to. */
class HeldExporter implements SpanExporter {
  readonly requests: Array<{ spans: ReadableSpan[]; answer: (r: ExportResult) => void }> = [];
  export(spans: ReadableSpan[], done: (r: ExportResult) => void): void {
    this.requests.push({ spans, answer: done });
  }
  async shutdown(): Promise<void> {}
  /** The span names of request `i`, decoded from the serialized request. */
  names(i: number): string[] {
    const request = fromBinary(ExportTraceServiceRequestSchema, serializer.serializeRequest(this.requests[i]!.spans)!);
    return request.resourceSpans.flatMap((rs) => rs.scopeSpans.flatMap((ss) => ss.spans.map((s) => s.name)));
  }
}

function setup(options: { maxQueueSize?: number; maxBatchSpans?: number; exportIntervalMs?: number } = {}) {
  const inner = new HeldExporter();
  const stats = new SpanExportStats();
  const queue = new CallSpanQueue({
    exporter: new CountingSpanExporter(inner, stats),
    stats,
    maxQueueSize: options.maxQueueSize ?? 100,
    maxBatchSpans: options.maxBatchSpans ?? 4,
    exportIntervalMs: options.exportIntervalMs ?? 60_000,
  });
  let n = 0;
  const add = (method = `M${n}`) => {
    n++;
    queue.add(encoder, { method, ids: Buffer.alloc(24, n), parentIsRemote: false, startMicros: 1_000_000 * n, endMicros: 1_000_000 * n + 5, outcome: { code: 0, codeName: 'OK' } });
  };
  return { inner, stats, queue, add };
}

const ok: ExportResult = { code: ExportResultCode.SUCCESS };

test('a full batch leaves at once, with its spans in the order they ended', (t) => {
  const { inner, stats, add } = setup({ maxBatchSpans: 3 });
  for (let i = 0; i < 7; i++) add();
  t.is(inner.requests.length, 2);
  t.deepEqual(inner.names(0), ['keyward.M0', 'keyward.M1', 'keyward.M2']);
  t.deepEqual(inner.names(1), ['keyward.M3', 'keyward.M4', 'keyward.M5']);
  t.is(spanCount(inner.requests[0]!.spans), 3);
  t.is(stats.pending, 7);
  inner.requests[0]!.answer(ok);
  t.is(stats.pending, 4);
  t.is(stats.exported, 3);
});

test('a batch that does not fill leaves export_interval_ms after its first span', async (t) => {
  const { inner, add } = setup({ exportIntervalMs: 150 });
  add();
  add();
  t.is(inner.requests.length, 0);
  await new Promise((r) => setTimeout(r, 400));
  t.is(inner.requests.length, 1);
  t.deepEqual(inner.names(0), ['keyward.M0', 'keyward.M1']);
});

test('past max_queue_size waiting spans, new ones are dropped and counted until exports are answered', (t) => {
  const { inner, stats, add } = setup({ maxQueueSize: 8, maxBatchSpans: 4 });
  for (let i = 0; i < 11; i++) add();
  t.is(stats.droppedQueueFull, 3);
  t.is(inner.requests.length, 2);
  inner.requests[0]!.answer({ code: ExportResultCode.FAILED, error: new Error('collector down') });
  t.is(stats.droppedExportFailed, 4);
  t.is(stats.pending, 4);
  add();
  t.is(stats.droppedQueueFull, 3, 'room again once an export was answered');
  t.is(stats.pending, 5);
});

test('an exporter that throws loses its spans, counted as failed exports; the queue goes on', (t) => {
  const stats = new SpanExportStats();
  const queue = new CallSpanQueue({
    exporter: { export: () => { throw new Error('broken exporter'); }, shutdown: async () => {} },
    stats,
    maxQueueSize: 100,
    maxBatchSpans: 2,
    exportIntervalMs: 60_000,
  });
  const span = { method: 'Encrypt', ids: Buffer.alloc(24, 1), parentIsRemote: false, startMicros: 1, endMicros: 2, outcome: { code: 0, codeName: 'OK' } };
  for (let i = 0; i < 4; i++) queue.add(encoder, span);
  t.is(stats.droppedExportFailed, 4);
  t.is(stats.pending, 0);
});

test('shutdown sends what is queued, waits for the answer, then takes nothing more', async (t) => {
  const { inner, stats, queue, add } = setup({ maxBatchSpans: 10 });
  add();
  add();
  const closing = queue.shutdown();
  t.is(inner.requests.length, 1);
  let closed = false;
  void closing.then(() => (closed = true));
  await new Promise((r) => setImmediate(r));
  t.false(closed, 'waits for the export to be answered');
  inner.requests[0]!.answer(ok);
  await closing;
  add();
  t.is(stats.droppedQueueFull, 1);
  t.is(inner.requests.length, 1);
});
