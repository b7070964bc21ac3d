// OTLP attribute values as plain JavaScript, so a test can write
// `t.deepEqual(span.attributes, { 'rpc.method': 'Encrypt', 'keyward.key.version': 3 })`
// instead of walking AnyValue oneofs: strings, booleans, numbers (an int64 becomes a
// number when it is a safe integer, else a bigint), arrays, objects (kvlist) and
// Uint8Array (bytes).
import type { AnyValue, KeyValue } from './gen/opentelemetry/proto/common/v1/common_pb.js';

export type OtlpValue = string | boolean | number | bigint | Uint8Array | OtlpValue[] | { [key: string]: OtlpValue } | undefined;

export function otlpValue(value: AnyValue | undefined): OtlpValue {
  const v = value?.value;
  switch (v?.case) {
    case 'stringValue':
    case 'boolValue':
    case 'doubleValue':
    case 'bytesValue':
      return v.value;
    case 'intValue':
      return v.value >= BigInt(Number.MIN_SAFE_INTEGER) && v.value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v.value) : v.value;
    case 'arrayValue':
      return v.value.values.map(otlpValue);
    case 'kvlistValue':
      return otlpAttributes(v.value.values);
    default:
      return undefined;
  }
}

/** KeyValue list (attributes of a resource, scope, span, event, data point) as an object. */
export function otlpAttributes(kvs: readonly KeyValue[]): Record<string, OtlpValue> {
  const out: Record<string, OtlpValue> = {};
  for (const kv of kvs) out[kv.key] = otlpValue(kv.value);
  return out;
}

/** Trace and span ids as the lowercase hex the W3C traceparent and the OTel API use. */
export function otlpId(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
