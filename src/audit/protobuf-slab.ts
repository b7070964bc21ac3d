// A protobuf wire-format writer that appends to one growing Buffer, for the call spans
// the daemon writes on every call. protobuf-es's BinaryWriter (used for everything
// else) collects bytes in a JS number array and copies them into a new Uint8Array per
// message and per raw() part; under load those per-span objects lived until the next
// export, were promoted and made the GC the largest cost of tracing. Here a batch of
// spans is bytes in one Buffer: nothing per span survives for the GC to trace.
// Only what the span encoder needs: tags, varints, fixed32/64, bytes, strings and
// nested messages. Nested lengths are written optimistically on one byte and widened
// at join() when the message turned out longer (a copyWithin of its bytes).

/** Protobuf wire types (encoding.md). */
export const WIRE = { varint: 0, bit64: 1, len: 2, bit32: 5 } as const;

const MIN_CAPACITY = 4_096;
/** Up to this many bytes, copying in JS beats a call into C++. */
const SHORT = 64;

function varintSize(value: number): number {
  return value < 0x80 ? 1 : value < 0x4000 ? 2 : value < 0x200000 ? 3 : value < 0x10000000 ? 4 : 5;
}

export class ProtobufSlab {
  #buf: Buffer;
  #pos = 0;
  /** Start offsets of the nested messages being written (their length byte). */
  readonly #forks: number[] = [];

  constructor(capacity = MIN_CAPACITY) {
    this.#buf = Buffer.allocUnsafeSlow(Math.max(capacity, 64));
  }

  /** Bytes written since the last take(). */
  get length(): number {
    return this.#pos;
  }

  #ensure(extra: number): void {
    if (this.#pos + extra <= this.#buf.length) return;
    let size = this.#buf.length * 2;
    while (size < this.#pos + extra) size *= 2;
    const grown = Buffer.allocUnsafeSlow(size);
    this.#buf.copy(grown, 0, 0, this.#pos);
    this.#buf = grown;
  }

  /** An unsigned varint below 2^32. */
  uint32(value: number): this {
    this.#ensure(5);
    const buf = this.#buf;
    let v = value >>> 0;
    while (v > 0x7f) {
      buf[this.#pos++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    buf[this.#pos++] = v;
    return this;
  }

  /** An int64 field's varint, for a safe integer (negatives take ten bytes, two's complement). */
  int64(value: number): this {
    if (value >= 0 && value <= 0xffffffff) return this.uint32(value);
    this.#ensure(10);
    const buf = this.#buf;
    let v = BigInt.asUintN(64, BigInt(value));
    while (v > 0x7fn) {
      buf[this.#pos++] = Number(v & 0x7fn) | 0x80;
      v >>= 7n;
    }
    buf[this.#pos++] = Number(v);
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.uint32((field << 3) | wireType);
  }

  fixed32(value: number): this {
    this.#ensure(4);
    this.#uint32le(value >>> 0);
    return this;
  }

  #uint32le(value: number): void {
    const buf = this.#buf;
    const pos = this.#pos;
    buf[pos] = value & 0xff;
    buf[pos + 1] = (value >>> 8) & 0xff;
    buf[pos + 2] = (value >>> 16) & 0xff;
    buf[pos + 3] = value >>> 24;
    this.#pos = pos + 4;
  }

  /**
   * A fixed64 of nanoseconds given in microseconds (an OTLP timestamp from a µs clock),
   * without a bigint: 2^64 ns is past 2554, µs since 1970 stay below 2^53.
   */
  fixed64NanosFromMicros(micros: number): this {
    const lowMicros = micros % 0x100000000;
    const lowNanos = lowMicros * 1000; // < 2^42: exact
    const lo = lowNanos % 0x100000000;
    const hi = ((micros - lowMicros) / 0x100000000) * 1000 + (lowNanos - lo) / 0x100000000;
    this.#ensure(8);
    this.#uint32le(lo);
    this.#uint32le(hi);
    return this;
  }

  double(value: number): this {
    this.#ensure(8);
    this.#buf.writeDoubleLE(value, this.#pos);
    this.#pos += 8;
    return this;
  }

  /** A length-delimited field's payload: its length, then the bytes. */
  bytes(value: Uint8Array): this {
    this.uint32(value.byteLength);
    return this.raw(value);
  }

  /** Bytes as they are (an already encoded part). */
  raw(value: Uint8Array): this {
    const length = value.byteLength;
    this.#ensure(length);
    const buf = this.#buf;
    let pos = this.#pos;
    // A call into C++ costs more than a short loop.
    if (length <= SHORT) for (let i = 0; i < length; i++) buf[pos++] = value[i]!;
    else {
      buf.set(value, pos);
      pos += length;
    }
    this.#pos = pos;
    return this;
  }

  /** A length-delimited field's payload from `source[start, end)` (no view made). */
  bytesOf(source: Buffer, start: number, end: number): this {
    const length = end - start;
    this.uint32(length);
    this.#ensure(length);
    source.copy(this.#buf, this.#pos, start, end);
    this.#pos += length;
    return this;
  }

  /** A string field's payload: its UTF-8 length, then the UTF-8 bytes. */
  string(value: string): this {
    const length = value.length;
    // Short ASCII (ids, names, outcomes) is copied by a loop; the rest by Buffer.write.
    if (length < 0x80 && length <= SHORT * 4) {
      this.#ensure(length + 1);
      const buf = this.#buf;
      const start = this.#pos;
      let pos = start + 1;
      let i = 0;
      for (; i < length; i++) {
        const c = value.charCodeAt(i);
        if (c >= 0x80) break;
        buf[pos++] = c;
      }
      if (i === length) {
        buf[start] = length;
        this.#pos = pos;
        return this;
      }
    }
    // At most 3 bytes per UTF-16 code unit.
    this.#ensure(length * 3 + 5);
    const byteLength = Buffer.byteLength(value, 'utf8');
    this.uint32(byteLength);
    this.#pos += this.#buf.write(value, this.#pos, 'utf8');
    return this;
  }

  bool(value: boolean): this {
    return this.uint32(value ? 1 : 0);
  }

  /** Starts a nested message (after its tag); join() writes its length. */
  fork(): this {
    this.#ensure(1);
    this.#forks.push(this.#pos);
    this.#pos += 1;
    return this;
  }

  join(): this {
    const at = this.#forks.pop();
    if (at === undefined) throw new Error('ProtobufSlab.join() without fork()');
    const length = this.#pos - at - 1;
    const size = varintSize(length);
    if (size > 1) {
      this.#ensure(size - 1);
      this.#buf.copyWithin(at + size, at + 1, this.#pos);
      this.#pos += size - 1;
    }
    let v = length;
    let i = at;
    while (v > 0x7f) {
      this.#buf[i++] = (v & 0x7f) | 0x80;
      v >>>= 7;
    }
    this.#buf[i] = v;
    return this;
  }

  /** Forgets what was written after `length` bytes (a part abandoned midway). */
  truncate(length: number): void {
    this.#pos = Math.min(length, this.#pos);
    this.#forks.length = 0;
  }

  /**
   * The bytes written so far, as a Buffer of their own; the slab starts over in a new
   * buffer sized for as much again (the taken bytes may still be in flight).
   */
  take(): Buffer {
    if (this.#forks.length > 0) throw new Error('ProtobufSlab.take() inside a nested message');
    const taken = this.#buf.subarray(0, this.#pos);
    this.#buf = Buffer.allocUnsafeSlow(Math.max(MIN_CAPACITY, this.#pos + (this.#pos >>> 2)));
    this.#pos = 0;
    return taken;
  }

  /** A copy of the bytes written so far; the slab keeps its buffer and starts over. */
  copyOut(): Buffer {
    if (this.#forks.length > 0) throw new Error('ProtobufSlab.copyOut() inside a nested message');
    const copy = Buffer.from(this.#buf.subarray(0, this.#pos));
    this.#pos = 0;
    return copy;
  }
}
