// Encodes a call's SERVER span straight into OTLP protobuf (opentelemetry.proto.trace.v1
// Span), appended to the batch being filled (protobuf-slab.ts). A span per call is the
// audit's largest cost: through the SDK every call built a Span object, sanitized its
// attributes and later serialized it generically (~7 µs per span in isolation, ~18 µs
// of daemon CPU per call under load). Here what repeats is encoded once — the method's
// name, kind and RPC attributes; each caller identity's attributes — and a call adds
// only its own ids, times, outcome and key. Batches travel to the SDK's exporters as
// they are (call-span-queue.ts, encoded-trace-serializer.ts); field numbers are those
// of trace.proto v1.
import type { CallOutcome } from '../core/call-observer.js';
import type { CallerIdentity } from '../core/caller.js';
import { callerEntries } from './caller-attributes.js';
import { ProtobufSlab, WIRE } from './protobuf-slab.js';

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

/** An attribute name already encoded as a KeyValue's `key` field (the hot path's names). */
export class AttributeKey {
  readonly field: Buffer;
  constructor(readonly name: string) {
    const w = new ProtobufSlab(64);
    w.tag(1, WIRE.len).string(name);
    this.field = w.copyOut();
  }
}

const KEY = {
  statusCode: new AttributeKey('rpc.grpc.status_code'),
  outcome: new AttributeKey('keyward.outcome'),
  keyId: new AttributeKey('keyward.key.id'),
  keyVersion: new AttributeKey('keyward.key.version'),
  backend: new AttributeKey('keyward.backend'),
  cacheHit: new AttributeKey('keyward.cache.hit'),
  batchSize: new AttributeKey('keyward.batch.size'),
  batchDenied: new AttributeKey('keyward.batch.denied'),
  denialReason: new AttributeKey('keyward.denial.reason'),
} as const;

/** Appends one KeyValue (common.proto) as field `fieldNo` of the message being written. */
export function writeKeyValue(w: ProtobufSlab, fieldNo: number, key: string | AttributeKey, value: AttributeValue): void {
  w.tag(fieldNo, WIRE.len).fork();
  if (typeof key === 'string') w.tag(1, WIRE.len).string(key);
  else w.raw(key.field);
  w.tag(2, WIRE.len).fork();
  if (typeof value === 'string') w.tag(1, WIRE.len).string(value);
  else if (typeof value === 'boolean') w.tag(2, WIRE.varint).bool(value);
  // int_value (int64) for integers (uids go up to 2^32 − 2), double_value otherwise.
  else if (Number.isSafeInteger(value)) w.tag(3, WIRE.varint).int64(value);
  else w.tag(4, WIRE.bit64).double(value);
  w.join();
  w.join();
}

/** For the parts encoded once (method, caller) and for encode(). */
const scratch = new ProtobufSlab(1_024);

function encoded(write: (w: ProtobufSlab) => void): Buffer {
  write(scratch);
  return scratch.copyOut();
}

export interface CallSpanRecord {
  readonly method: string;
  /** The trace id (16 bytes) then the span id (8 bytes). */
  readonly ids: Buffer;
  readonly parentSpanId?: Uint8Array | undefined;
  readonly parentIsRemote: boolean;
  readonly traceState?: string | undefined;
  /** Wall-clock times, in microseconds since the epoch. */
  readonly startMicros: number;
  readonly endMicros: number;
  readonly outcome: CallOutcome;
}

export class CallSpanEncoder {
  readonly #service: string;
  readonly #methods = new Map<string, Buffer>();
  /** Per identity object (one per connection or verified token), encoded once. */
  readonly #callers = new WeakMap<CallerIdentity, Buffer>();

  constructor(service: string) {
    this.#service = service;
  }

  /** Name, kind and the RPC attributes of a method: the same for all its calls. */
  #methodPart(method: string): Buffer {
    let part = this.#methods.get(method);
    if (part === undefined) {
      part = encoded((w) => {
        w.tag(SPAN.name, WIRE.len).string(`keyward.${method}`);
        w.tag(SPAN.kind, WIRE.varint).uint32(KIND_SERVER);
        writeKeyValue(w, SPAN.attributes, 'rpc.system', 'grpc');
        writeKeyValue(w, SPAN.attributes, 'rpc.service', this.#service);
        writeKeyValue(w, SPAN.attributes, 'rpc.method', method);
      });
      this.#methods.set(method, part);
    }
    return part;
  }

  #callerPart(caller: CallerIdentity): Buffer {
    let part = this.#callers.get(caller);
    if (part === undefined) {
      part = encoded((w) => {
        for (const [key, value] of callerEntries(caller, 'span')) writeKeyValue(w, SPAN.attributes, key, value);
      });
      this.#callers.set(caller, part);
    }
    return part;
  }

  /** One Span message, as bytes of its own (tests, and anything off the hot path). */
  encode(span: CallSpanRecord): Buffer {
    this.write(scratch, span);
    return scratch.copyOut();
  }

  /** Appends one Span message's fields to `w` (the caller frames it). */
  write(w: ProtobufSlab, span: CallSpanRecord): void {
    const { outcome } = span;
    // The cached parts first: making one uses the scratch slab.
    const methodPart = this.#methodPart(span.method);
    const callerPart = outcome.caller !== undefined ? this.#callerPart(outcome.caller) : undefined;
    w.tag(SPAN.traceId, WIRE.len).bytesOf(span.ids, 0, 16);
    w.tag(SPAN.spanId, WIRE.len).bytesOf(span.ids, 16, 24);
    if (span.traceState) w.tag(SPAN.traceState, WIRE.len).string(span.traceState);
    if (span.parentSpanId !== undefined) w.tag(SPAN.parentSpanId, WIRE.len).bytes(span.parentSpanId);
    w.raw(methodPart);
    w.tag(SPAN.start, WIRE.bit64).fixed64NanosFromMicros(span.startMicros);
    w.tag(SPAN.end, WIRE.bit64).fixed64NanosFromMicros(span.endMicros);
    writeKeyValue(w, SPAN.attributes, KEY.statusCode, outcome.code);
    writeKeyValue(w, SPAN.attributes, KEY.outcome, outcome.code === 0 ? 'ok' : outcome.codeName);
    if (outcome.keyId !== undefined) writeKeyValue(w, SPAN.attributes, KEY.keyId, outcome.keyId);
    if (outcome.keyVersion !== undefined) writeKeyValue(w, SPAN.attributes, KEY.keyVersion, outcome.keyVersion);
    if (outcome.backend !== undefined) writeKeyValue(w, SPAN.attributes, KEY.backend, outcome.backend);
    if (outcome.cacheHit !== undefined) writeKeyValue(w, SPAN.attributes, KEY.cacheHit, outcome.cacheHit);
    if (outcome.batchSize !== undefined) writeKeyValue(w, SPAN.attributes, KEY.batchSize, outcome.batchSize);
    if (outcome.deniedItems) writeKeyValue(w, SPAN.attributes, KEY.batchDenied, outcome.deniedItems);
    if (callerPart !== undefined) w.raw(callerPart);
    if (outcome.denialReason !== undefined) writeKeyValue(w, SPAN.attributes, KEY.denialReason, outcome.denialReason);
    if (outcome.dekGenerated) {
      w.tag(SPAN.events, WIRE.len).fork();
      w.tag(EVENT.time, WIRE.bit64).fixed64NanosFromMicros(span.endMicros);
      w.tag(EVENT.name, WIRE.len).string('keyward.dek.generated');
      if (outcome.keyId !== undefined) writeKeyValue(w, EVENT.attributes, KEY.keyId, outcome.keyId);
      if (outcome.keyVersion !== undefined) writeKeyValue(w, EVENT.attributes, KEY.keyVersion, outcome.keyVersion);
      w.join();
    }
    if (outcome.code !== 0) {
      // The status message is the code's name, never the error text (it can quote input).
      w.tag(SPAN.status, WIRE.len).fork();
      w.tag(STATUS.message, WIRE.len).string(outcome.codeName);
      w.tag(STATUS.code, WIRE.varint).uint32(STATUS_ERROR);
      w.join();
    }
    w.tag(SPAN.flags, WIRE.bit32).fixed32(FLAG_SAMPLED | FLAG_HAS_IS_REMOTE | (span.parentIsRemote ? FLAG_IS_REMOTE : 0));
  }
}
