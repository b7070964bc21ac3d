// One SERVER span per RPC, named keyward.<Method>, continuing the caller's W3C trace
// context from the gRPC metadata. Attributes follow OpenTelemetry's RPC conventions
// where they exist (docs/tracing.md) and carry only metadata: key id and version,
// outcome, cache hit, backend, batch size, caller — never plaintext, data or keys.
// The span is encoded to OTLP protobuf when the call ends (call-span-encoder.ts) and
// handed to the daemon's span processor, so it shares the SDK spans' bounded queue,
// batching and exporter; backend spans made by the SDK inside the call are its children
// through the span scope. Every call is recorded, whatever the caller's sampling flag:
// this is an audit trail, not a sample.
import { ROOT_CONTEXT, TraceFlags, trace, type SpanContext, type TextMapGetter } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { Resource } from '@opentelemetry/resources';
import { RandomIdGenerator, type ReadableSpan, type SpanProcessor } from '@opentelemetry/sdk-trace';
import type { CallObserver, MetadataReader, ObservedCall } from '../core/call-observer.js';
import { CallSpanEncoder } from './call-span-encoder.js';
import type { EncodedSpan } from './encoded-trace-serializer.js';
import type { SpanScope } from './span-scope.js';

const getter: TextMapGetter<MetadataReader> = {
  keys: () => ['traceparent', 'tracestate'],
  get: (read, key) => read(key),
};
const w3c = new W3CTraceContextPropagator();
const ids = new RandomIdGenerator();

/** Wall-clock time in nanoseconds, at microsecond resolution. */
function nowNanos(): bigint {
  return BigInt(Math.round((performance.timeOrigin + performance.now()) * 1_000)) * 1_000n;
}

export interface CallTracing {
  /** The daemon's span processor (bounded queue → batcher → OTLP exporter). */
  readonly processor: SpanProcessor;
  readonly resource: Resource;
}

export class CallTracer implements CallObserver {
  readonly #tracing: CallTracing;
  readonly #encoder: CallSpanEncoder;
  readonly #scope: SpanScope;

  constructor(tracing: CallTracing, service: string, scope: SpanScope) {
    this.#tracing = tracing;
    this.#encoder = new CallSpanEncoder(service);
    this.#scope = scope;
  }

  start(method: string, metadata: MetadataReader): ObservedCall {
    const startNanos = nowNanos();
    const parentContext = w3c.extract(ROOT_CONTEXT, metadata, getter);
    const parent = trace.getSpanContext(parentContext);
    const hasParent = parent !== undefined && trace.isSpanContextValid(parent);
    const context: SpanContext = {
      traceId: hasParent ? parent.traceId : ids.generateTraceId(),
      spanId: ids.generateSpanId(),
      traceFlags: TraceFlags.SAMPLED,
      isRemote: false,
      ...(hasParent && parent.traceState ? { traceState: parent.traceState } : {}),
    };
    const inCall = trace.setSpanContext(parentContext, context);
    return {
      run: (fn) => this.#scope.run(inCall, fn),
      end: (outcome) => {
        const encodedSpan = this.#encoder.encode({
          method,
          traceId: Buffer.from(context.traceId, 'hex'),
          spanId: Buffer.from(context.spanId, 'hex'),
          ...(hasParent ? { parentSpanId: Buffer.from(parent.spanId, 'hex') } : {}),
          parentIsRemote: hasParent && parent.isRemote === true,
          ...(context.traceState ? { traceState: context.traceState.serialize() } : {}),
          startNanos,
          endNanos: nowNanos(),
          outcome,
        });
        const span: EncodedSpan = { encodedSpan, resource: this.#tracing.resource, spanContext: () => context };
        this.#tracing.processor.onEnd(span as unknown as ReadableSpan);
      },
    };
  }
}
