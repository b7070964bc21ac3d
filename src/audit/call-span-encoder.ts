// Encodes a call's SERVER span straight into OTLP protobuf (opentelemetry.proto.trace.v1
// Span) with protobuf-es's BinaryWriter. A span per call is the audit's largest cost:
// through the SDK every call built a Span object, sanitized its attributes and later
// serialized it generically (measured here ~7 µs per span in isolation, ~18 µs of daemon
// CPU per call under load). Here what repeats is encoded once — the method's name, kind
// and RPC attributes; each caller identity's attributes — and a call adds only its own
// ids, times, outcome and key. The bytes ride through the SDK's batching and exporters
// (see encoded-trace-serializer.ts); field numbers are those of trace.proto v1.
import { BinaryWriter, WireType } from '@bufbuild/protobuf/wire';
import type { CallOutcome } from '../core/call-observer.js';
import type { CallerIdentity } from '../core/caller.js';
import { callerEntries } from './caller-attributes.js';

/** Span fields (opentelemetry/proto/trace/v1/trace.proto). */
const SPAN = { traceId: 1, spanId: 2, traceState: 3, parentSpanId: 4, name: 5, kind: 6, start: 7, end: 8, attributes: 9, events: 11, status: 15, flags: 16 } as const;
const EVENT = { time: 1, name: 2, attributes: 3 } as const;
const STATUS = { message: 2, code: 3 } as const;
const KIND_SERVER = 2;
const STATUS_ERROR = 2;
/** Span.flags: the W3C trace flags, plus "has is_remote" and "parent is remote". */
const FLAG_SAMPLED = 0x01;
const FLAG_HAS_IS_REMOTE = 0x100;
const FLAG_IS_REMOTE = 0x200;

export type AttributeValue = string | number | boolean;

/** Appends one KeyValue (common.proto) as field `fieldNo` of the message being written. */
export function writeKeyValue(w: BinaryWriter, fieldNo: number, key: string, value: AttributeValue): void {
  w.tag(fieldNo, WireType.LengthDelimited).fork();
  w.tag(1, WireType.LengthDelimited).string(key);
  w.tag(2, WireType.LengthDelimited).fork();
  if (typeof value === 'string') w.tag(1, WireType.LengthDelimited).string(value);
  else if (typeof value === 'boolean') w.tag(2, WireType.Varint).bool(value);
  // A non-negative int64 and a uint32 have the same varint; uids go up to 2^32 − 2.
  else if (Number.isInteger(value) && value >= 0 && value <= 0xffffffff) w.tag(3, WireType.Varint).uint32(value);
  else if (Number.isInteger(value)) w.tag(3, WireType.Varint).int64(value);
  else w.tag(4, WireType.Bit64).double(value);
  w.join();
  w.join();
}

/**
 * One writer for everything this module encodes: finish() copies the bytes out and
 * keeps the buffer, so after warm-up no span grows a buffer. Encoding is synchronous.
 */
const writer = new BinaryWriter();

function encoded(write: (w: BinaryWriter) => void): Uint8Array {
  write(writer);
  return writer.finish();
}

export interface CallSpanRecord {
  readonly method: string;
  /** 16 and 8 bytes. */
  readonly traceId: Uint8Array;
  readonly spanId: Uint8Array;
  readonly parentSpanId?: Uint8Array;
  readonly parentIsRemote: boolean;
  readonly traceState?: string;
  readonly startNanos: bigint;
  readonly endNanos: bigint;
  readonly outcome: CallOutcome;
}

export class CallSpanEncoder {
  readonly #service: string;
  readonly #methods = new Map<string, Uint8Array>();
  /** Per identity object (one per connection or verified token), encoded once. */
  readonly #callers = new WeakMap<CallerIdentity, Uint8Array>();

  constructor(service: string) {
    this.#service = service;
  }

  /** Name, kind and the RPC attributes of a method: the same for all its calls. */
  #methodPart(method: string): Uint8Array {
    let part = this.#methods.get(method);
    if (part === undefined) {
      part = encoded((w) => {
        w.tag(SPAN.name, WireType.LengthDelimited).string(`keyward.${method}`);
        w.tag(SPAN.kind, WireType.Varint).int32(KIND_SERVER);
        writeKeyValue(w, SPAN.attributes, 'rpc.system', 'grpc');
        writeKeyValue(w, SPAN.attributes, 'rpc.service', this.#service);
        writeKeyValue(w, SPAN.attributes, 'rpc.method', method);
      });
      this.#methods.set(method, part);
    }
    return part;
  }

  #callerPart(caller: CallerIdentity): Uint8Array {
    let part = this.#callers.get(caller);
    if (part === undefined) {
      part = encoded((w) => {
        for (const [key, value] of callerEntries(caller, 'span')) writeKeyValue(w, SPAN.attributes, key, value);
      });
      this.#callers.set(caller, part);
    }
    return part;
  }

  /** One Span message. */
  encode(span: CallSpanRecord): Uint8Array {
    const { outcome } = span;
    // The cached parts first: making one uses the shared writer.
    const methodPart = this.#methodPart(span.method);
    const callerPart = outcome.caller !== undefined ? this.#callerPart(outcome.caller) : undefined;
    const w = writer;
    w.tag(SPAN.traceId, WireType.LengthDelimited).bytes(span.traceId);
    w.tag(SPAN.spanId, WireType.LengthDelimited).bytes(span.spanId);
    if (span.traceState) w.tag(SPAN.traceState, WireType.LengthDelimited).string(span.traceState);
    if (span.parentSpanId !== undefined) w.tag(SPAN.parentSpanId, WireType.LengthDelimited).bytes(span.parentSpanId);
    w.raw(methodPart);
    w.tag(SPAN.start, WireType.Bit64).fixed64(span.startNanos);
    w.tag(SPAN.end, WireType.Bit64).fixed64(span.endNanos);
    writeKeyValue(w, SPAN.attributes, 'rpc.grpc.status_code', outcome.code);
    writeKeyValue(w, SPAN.attributes, 'keyward.outcome', outcome.code === 0 ? 'ok' : outcome.codeName);
    if (outcome.keyId !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.key.id', outcome.keyId);
    if (outcome.keyVersion !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.key.version', outcome.keyVersion);
    if (outcome.backend !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.backend', outcome.backend);
    if (outcome.cacheHit !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.cache.hit', outcome.cacheHit);
    if (outcome.batchSize !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.batch.size', outcome.batchSize);
    if (outcome.deniedItems) writeKeyValue(w, SPAN.attributes, 'keyward.batch.denied', outcome.deniedItems);
    if (callerPart !== undefined) w.raw(callerPart);
    if (outcome.denialReason !== undefined) writeKeyValue(w, SPAN.attributes, 'keyward.denial.reason', outcome.denialReason);
    if (outcome.dekGenerated) {
      w.tag(SPAN.events, WireType.LengthDelimited).fork();
      w.tag(EVENT.time, WireType.Bit64).fixed64(span.endNanos);
      w.tag(EVENT.name, WireType.LengthDelimited).string('keyward.dek.generated');
      if (outcome.keyId !== undefined) writeKeyValue(w, EVENT.attributes, 'keyward.key.id', outcome.keyId);
      if (outcome.keyVersion !== undefined) writeKeyValue(w, EVENT.attributes, 'keyward.key.version', outcome.keyVersion);
      w.join();
    }
    if (outcome.code !== 0) {
      // The status message is the code's name, never the error text (it can quote input).
      w.tag(SPAN.status, WireType.LengthDelimited).fork();
      w.tag(STATUS.message, WireType.LengthDelimited).string(outcome.codeName);
      w.tag(STATUS.code, WireType.Varint).int32(STATUS_ERROR);
      w.join();
    }
    w.tag(SPAN.flags, WireType.Bit32).fixed32(FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | (span.parentIsRemote ? FLAG_IS_REMOTE : 0));
    return w.finish();
  }
}
