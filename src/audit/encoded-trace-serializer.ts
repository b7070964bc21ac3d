// The OTLP trace request serializer of the daemon's exporters: spans the SDK made
// (backend calls, lifecycle events) are serialized by OpenTelemetry's own serializer;
// call spans arrive already encoded (call-span-encoder.ts) and are wrapped in one
// ResourceSpans of their own. Two serialized ExportTraceServiceRequests concatenated are
// one request whose resource_spans holds both (protobuf merges repeated fields), so the
// result is a single valid request for either transport (HTTP or gRPC).
import type { SpanContext } from '@opentelemetry/api';
import type { Resource } from '@opentelemetry/resources';
import { ProtobufTraceSerializer, type IExportTraceServiceResponse, type ISerializer } from '@opentelemetry/otlp-transformer';
import type { ReadableSpan } from '@opentelemetry/sdk-trace';
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import { writeKeyValue, type AttributeValue } from './call-span-encoder.js';

/** A call span already in protobuf form, travelling through the SDK's span processors. */
export interface EncodedSpan {
  readonly encodedSpan: Uint8Array;
  readonly resource: Resource;
  spanContext(): SpanContext;
}

export function isEncodedSpan(span: unknown): span is EncodedSpan {
  return (span as Partial<EncodedSpan>).encodedSpan instanceof Uint8Array;
}

/** ResourceSpans { resource, scope_spans { scope, spans… } } as field 1 of the request. */
function resourceSpansPrefix(resource: Resource, scope: { name: string; version: string }): (spans: readonly Uint8Array[]) => Uint8Array {
  const resourceBytes = (() => {
    const w = new BinaryWriter();
    for (const [key, value] of Object.entries(resource.attributes)) {
      if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') writeKeyValue(w, 1, key, value as AttributeValue);
    }
    return w.finish();
  })();
  const w = new BinaryWriter();
  return (spans) => {
    w.tag(1, WireType.LengthDelimited).fork(); // ExportTraceServiceRequest.resource_spans
    w.tag(1, WireType.LengthDelimited).bytes(resourceBytes); // ResourceSpans.resource
    w.tag(2, WireType.LengthDelimited).fork(); // ResourceSpans.scope_spans
    w.tag(1, WireType.LengthDelimited).fork(); // ScopeSpans.scope
    w.tag(1, WireType.LengthDelimited).string(scope.name);
    w.tag(2, WireType.LengthDelimited).string(scope.version);
    w.join();
    for (const span of spans) w.tag(2, WireType.LengthDelimited).bytes(span); // ScopeSpans.spans
    w.join();
    w.join();
    return w.finish();
  };
}

export function encodedTraceSerializer(resource: Resource, scope: { name: string; version: string }): ISerializer<ReadableSpan[], IExportTraceServiceResponse> {
  const wrap = resourceSpansPrefix(resource, scope);
  return {
    serializeRequest(spans) {
      const made: ReadableSpan[] = [];
      const encoded: Uint8Array[] = [];
      for (const span of spans) {
        if (isEncodedSpan(span)) encoded.push(span.encodedSpan);
        else made.push(span);
      }
      const parts: Uint8Array[] = [];
      if (made.length > 0) {
        const bytes = ProtobufTraceSerializer.serializeRequest(made);
        if (bytes !== undefined) parts.push(bytes);
      }
      if (encoded.length > 0) parts.push(wrap(encoded));
      return parts.length === 1 ? parts[0] : Buffer.concat(parts);
    },
    deserializeResponse: (data) => ProtobufTraceSerializer.deserializeResponse(data),
  };
}
