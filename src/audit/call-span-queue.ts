// The export queue of call spans: each call's span is encoded on the spot into the
// batch being filled (one Buffer, see protobuf-slab.ts), and a batch leaves for the
// daemon's trace exporter — the one SDK-made spans use — when it holds max_batch spans
// or export_interval_ms after its first span. Bounded like the SDK's queue and counted
// in the same SpanExportStats: past max_queue_size spans waiting (in the batch or in an
// export not yet answered), a span is dropped and counted; the daemon never blocks or
// grows while the collector is down.
import type { ReadableSpan, SpanExporter } from '@opentelemetry/sdk-trace';
import type { CallSpanEncoder, CallSpanRecord } from './call-span-encoder.js';
import { EncodedSpanBatch } from './encoded-trace-serializer.js';
import { ProtobufSlab, WIRE } from './protobuf-slab.js';
import type { SpanExportStats } from './span-export-accounting.js';

/** ScopeSpans.spans (trace.proto v1). */
const SCOPE_SPANS_SPANS = 2;

export interface CallSpanQueueOptions {
  readonly exporter: SpanExporter;
  readonly stats: SpanExportStats;
  readonly maxQueueSize: number;
  /** Spans per export request at most. */
  readonly maxBatchSpans: number;
  /** How long the first span of a batch waits for the batch to leave. */
  readonly exportIntervalMs: number;
}

export class CallSpanQueue {
  readonly #options: CallSpanQueueOptions;
  #slab = new ProtobufSlab(64 * 1024);
  #count = 0;
  #timer: NodeJS.Timeout | undefined;
  readonly #inFlight = new Set<Promise<void>>();
  #closed = false;

  constructor(options: CallSpanQueueOptions) {
    this.#options = options;
  }

  /** Encodes one call span into the current batch, or counts it dropped when the queue is full. */
  add(encoder: CallSpanEncoder, span: CallSpanRecord): void {
    const { stats, maxQueueSize, maxBatchSpans } = this.#options;
    if (this.#closed || stats.pending >= maxQueueSize) {
      stats.droppedQueueFull++;
      return;
    }
    const slab = this.#slab;
    const mark = slab.length;
    try {
      slab.tag(SCOPE_SPANS_SPANS, WIRE.len).fork();
      encoder.write(slab, span);
      slab.join();
    } catch (err) {
      slab.truncate(mark);
      throw err;
    }
    stats.pending++;
    this.#count++;
    if (this.#count >= maxBatchSpans) this.#flush();
    else if (this.#count === 1) this.#startTimer();
  }

  /** Sends what is queued and waits for every export in flight. */
  async forceFlush(): Promise<void> {
    this.#flush();
    await Promise.all([...this.#inFlight]);
  }

  /** Takes no more spans; sends what is queued and waits for it. */
  async shutdown(): Promise<void> {
    this.#closed = true;
    await this.forceFlush();
  }

  #startTimer(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      this.#flush();
    }, this.#options.exportIntervalMs);
    this.#timer.unref();
  }

  #flush(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#count === 0) return;
    const batch = new EncodedSpanBatch(this.#slab.take(), this.#count);
    this.#count = 0;
    const exported = new Promise<void>((resolve) => {
      try {
        this.#options.exporter.export([batch as unknown as ReadableSpan], () => resolve());
      } catch {
        // An exporter that throws instead of answering: its spans are lost, and counted.
        const { stats } = this.#options;
        stats.pending = Math.max(0, stats.pending - batch.spanCount);
        stats.droppedExportFailed += batch.spanCount;
        resolve();
      }
    });
    this.#inFlight.add(exported);
    void exported.then(() => this.#inFlight.delete(exported));
  }
}
