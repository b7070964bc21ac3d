// Keeps span export bounded and accounted for: at most max_queue_size spans wait for
// the collector; past that, and for every batch the collector refused or never got,
// spans are dropped and counted (keyward.telemetry.spans.dropped) — the daemon keeps
// serving and never grows while the collector is down.
import type { Context, Meter } from '@opentelemetry/api';
import { ExportResultCode, type ExportResult } from '@opentelemetry/core';
import type { ReadableSpan, Span, SpanExporter, SpanProcessor } from '@opentelemetry/sdk-trace';
import type { CallSpanQueue } from './call-span-queue.js';
import { spanCount } from './encoded-trace-serializer.js';

export class SpanExportStats {
  /** Spans handed to the exporter queue and not yet exported or failed. */
  pending = 0;
  exported = 0;
  droppedQueueFull = 0;
  droppedExportFailed = 0;
}

/** Counts what the wrapped exporter delivered and what it failed to. */
export class CountingSpanExporter implements SpanExporter {
  readonly #inner: SpanExporter;
  readonly #stats: SpanExportStats;

  constructor(inner: SpanExporter, stats: SpanExportStats) {
    this.#inner = inner;
    this.#stats = stats;
  }

  export(spans: ReadableSpan[], resultCallback: (result: ExportResult) => void): void {
    const count = spanCount(spans);
    this.#inner.export(spans, (result) => {
      this.#stats.pending = Math.max(0, this.#stats.pending - count);
      if (result.code === ExportResultCode.SUCCESS) this.#stats.exported += count;
      else this.#stats.droppedExportFailed += count;
      resultCallback(result);
    });
  }

  shutdown(): Promise<void> {
    return this.#inner.shutdown();
  }

  forceFlush(): Promise<void> {
    return this.#inner.forceFlush?.() ?? Promise.resolve();
  }
}

/**
 * Refuses (and counts) spans once `maxQueueSize` are waiting, before the batcher sees
 * them. The call span queue shares the exporter the batcher owns: it is flushed first,
 * and shut down before the batcher shuts the exporter down.
 */
export class BoundedSpanProcessor implements SpanProcessor {
  readonly #inner: SpanProcessor;
  readonly #stats: SpanExportStats;
  readonly #maxQueueSize: number;
  readonly #callSpans: CallSpanQueue;

  constructor(inner: SpanProcessor, stats: SpanExportStats, maxQueueSize: number, callSpans: CallSpanQueue) {
    this.#inner = inner;
    this.#stats = stats;
    this.#maxQueueSize = maxQueueSize;
    this.#callSpans = callSpans;
  }

  onStart(span: Span, parentContext: Context): void {
    this.#inner.onStart(span, parentContext);
  }

  onEnd(span: ReadableSpan): void {
    if (this.#stats.pending >= this.#maxQueueSize) {
      this.#stats.droppedQueueFull++;
      return;
    }
    this.#stats.pending++;
    this.#inner.onEnd(span);
  }

  async forceFlush(): Promise<void> {
    await this.#callSpans.forceFlush();
    await this.#inner.forceFlush();
  }

  async shutdown(): Promise<void> {
    await this.#callSpans.shutdown();
    await this.#inner.shutdown();
  }
}

/** The drop counter as a metric. */
export function registerSpanDropMetric(meter: Meter, stats: SpanExportStats): void {
  meter
    .createObservableCounter('keyward.telemetry.spans.dropped', { description: 'Spans not delivered to the collector' })
    .addCallback((result) => {
      result.observe(stats.droppedQueueFull, { 'keyward.reason': 'queue_full' });
      result.observe(stats.droppedExportFailed, { 'keyward.reason': 'export_failed' });
    });
}
