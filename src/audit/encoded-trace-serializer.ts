// The OTLP trace request serializer of the daemon's exporters: spans the SDK made
// (backend calls, lifecycle events) are serialized by OpenTelemetry's own serializer;
// call spans arrive already encoded, a batch of them per export (call-span-queue.ts), and
// are wrapped in one ResourceSpans — a valid request for either transport (HTTP or gRPC).
import type { Resource } from '@opentelemetry/resources';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { writeKeyValue, type AttributeValue } from './call-span-encoder.js';
import { ProtobufSlab, WIRE } from './protobuf-slab.js';

/**
 * Call spans already in protobuf form — each a `ScopeSpans.spans` field (tag, length,
 * Span) — travelling to the exporter in place of SDK spans.
 */
export class EncodedSpanBatch {
  constructor(
    /** The concatenated `spans` fields. */
    readonly encodedSpans: Uint8Array,
    readonly spanCount: number,
  ) {}
}

/** How many spans a list handed to an exporter holds (a batch counts its spans). */
export function spanCount(spans: readonly unknown[]): number {
  let count = 0;
  for (const span of spans) count += span instanceof EncodedSpanBatch ? span.spanCount : 1;
  return count;
}

/** ResourceSpans { resource, scope_spans { scope, spans… } } as field 1 of the request. */
function resourceSpansWriter(resource: Resource, scope: { name: string; version: string }): (batch: EncodedSpanBatch) => Uint8Array {
  const w = new ProtobufSlab();
  for (const [key, value] of Object.entries(resource.attributes)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') writeKeyValue(w, 1, key, value as AttributeValue);
  }
  const resourceBytes = w.copyOut();
  return (batch) => {
    w.tag(1, WIRE.len).fork(); // ExportTraceServiceRequest.resource_spans
    w.tag(1, WIRE.len).bytes(resourceBytes); // ResourceSpans.resource
    w.tag(2, WIRE.len).fork(); // ResourceSpans.scope_spans
    w.tag(1, WIRE.len).fork(); // ScopeSpans.scope
    w.tag(1, WIRE.len).string(scope.name);
    w.tag(2, WIRE.len).string(scope.version);
    w.join();
    w.raw(batch.encodedSpans); // ScopeSpans.spans, already framed
    w.join();
    w.join();
    return w.take();
  };
}

/**
 * An export carries either SDK spans (from the BatchSpanProcessor) or one batch of call
 * spans (from CallSpanQueue), never both: each is serialized on its own.
 */
export function encodedTraceSerializer(resource: Resource, scope: { name: string; version: string }): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  const wrap = resourceSpansWriter(resource, scope);
  return {
    serializeRequest(spans) {
      const [first] = spans as unknown[];
      if (spans.length === 1 && first instanceof EncodedSpanBatch) return wrap(first);
      return ProtobufTraceSerializer.serializeRequest(spans);
    },
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}
