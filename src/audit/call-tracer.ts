// One SERVER span per RPC, named keyward.<Method>, continuing the caller's W3C trace
// context from the gRPC metadata. Attributes follow OpenTelemetry's RPC conventions
// where they exist (docs/tracing.md) and carry only metadata: key id and version,
// outcome, cache hit, backend, batch size, caller — never plaintext, data or keys.
// No SDK span is built: the call's ids live in 24 bytes, its span is encoded into the
// export batch when the call ends (call-span-encoder.ts, call-span-queue.ts), and the
// OpenTelemetry Context that backend spans take as their parent is made only if a
// backend is called (span-scope.ts). Every call is recorded, whatever the caller's
// sampling flag: this is an audit trail, not a sample.
import { ROOT_CONTEXT, TraceFlags, trace, type Context, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { CallObserver, CallOutcome, MetadataReader, ObservedCall } from '../core/call-observer.js';
import { CallSpanEncoder, type CallSpanRecord } from './call-span-encoder.js';
import type { CallSpanQueue } from './call-span-queue.js';
import type { ContextSource, SpanScope } from './span-scope.js';
import { RandomPool } from '../core/random-pool.js';

const getter: TextMapGetter<MetadataReader> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (read, key) => read(key),
};
const w3c = new W3CTraceContextPropagator();
const random = new RandomPool();

/** A fresh random id of `length` bytes into `out` at `at`; W3C forbids an all-zero id. */
function fillId(out: Buffer, at: number, length: 8 | 16): void {
  for (;;) {
    random.fill(out, at, length);
    for (let i = at; i < at + length; i++) if (out[i] !== 0) return;
  }
}

/** Wall-clock time in microseconds since the epoch. */
function nowMicros(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1_000);
}

/** The caller's span, when its `traceparent` names a valid one. */
function remoteParent(metadata: MetadataReader): { context: Context; span: SpanContext } | undefined {
  const traceparent = metadata('traceparent');
  if (traceparent === undefined) return undefined;
  // The header already read is handed back to the propagator, not read again.
  const context = w3c.extract(ROOT_CONTEXT, metadata, { ...getter, get: (read, key) => (key === 'traceparent' ? traceparent : read(key)) });
  const span = trace.getSpanContext(context);
  return span !== undefined && trace.isSpanContextValid(span) ? { context, span } : undefined;
}

/** What the tracer shares with its calls. */
interface TracerParts {
  readonly queue: CallSpanQueue;
  readonly encoder: CallSpanEncoder;
  readonly scope: SpanScope;
}

/** One call's span: its ids, its parent, and the record the encoder reads at its end. */
class TracedCall implements ObservedCall, ContextSource, CallSpanRecord {
  readonly ids = Buffer.allocUnsafe(24);
  readonly parentSpanId: Uint8Array | undefined;
  readonly parentIsRemote: boolean;
  readonly traceState: string | undefined;
  readonly startMicros = nowMicros();
  endMicros = 0;
  /** Set by end(), before the encoder reads it. */
  outcome!: CallOutcome;
  #context: Context | undefined;

  constructor(
    readonly method: string,
    readonly parts: TracerParts,
    readonly parent: { context: Context; span: SpanContext } | undefined,
  ) {
    if (parent === undefined) {
      fillId(this.ids, 0, 16);
      this.parentSpanId = undefined;
      this.parentIsRemote = false;
      this.traceState = undefined;
    } else {
      this.ids.write(parent.span.traceId, 0, 16, 'hex');
      this.parentSpanId = Buffer.from(parent.span.spanId, 'hex');
      this.parentIsRemote = parent.span.isRemote === true;
      this.traceState = parent.span.traceState?.serialize() || undefined;
    }
    fillId(this.ids, 16, 8);
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return this.parts.scope.enter(this, fn);
  }

  /** The Context backend spans take as parent: this call's span, sampled, inside the caller's context. */
  context(): Context {
    if (this.#context === undefined) {
      const span: SpanContext = {
        traceId: this.ids.toString('hex', 0, 16),
        spanId: this.ids.toString('hex', 16, 24),
        traceFlags: TraceFlags.SAMPLED,
        isRemote: false,
        ...(this.parent?.span.traceState ? { traceState: this.parent.span.traceState } : {}),
      };
      this.#context = trace.setSpanContext(this.parent?.context ?? ROOT_CONTEXT, span);
    }
    return this.#context;
  }

  end(outcome: CallOutcome): void {
    this.endMicros = nowMicros();
    this.outcome = outcome;
    this.parts.queue.add(this.parts.encoder, this);
  }
}

export class CallTracer implements CallObserver {
  readonly wrapsCalls = true;
  readonly #parts: TracerParts;

  constructor(queue: CallSpanQueue, service: string, scope: SpanScope) {
    this.#parts = { queue, encoder: new CallSpanEncoder(service), scope };
  }

  start(method: string, metadata: MetadataReader): ObservedCall {
    return new TracedCall(method, this.#parts, remoteParent(metadata));
  }
}
