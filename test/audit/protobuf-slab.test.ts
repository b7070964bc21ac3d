// ProtobufSlab against protobuf-es's BinaryReader: what it writes reads back as written
// — varints at every size boundary, negative int64, fixed32/64, doubles, short and long
// strings in ASCII and not, bytes, nested messages whose length needs one byte or more
// (the optimistic length byte widened at join), and take()/copyOut() starting over.
import test from 'ava';
import { BinaryReader, WireType } from '@bufbuild/protobuf/wire';
import { ProtobufSlab, WIRE } from '../../src/audit/protobuf-slab.js';

test('scalars read back as written', (t) => {
  const w = new ProtobufSlab(64);
  const varints = [0, 1, 127, 128, 16_383, 16_384, 2_097_151, 2_097_152, 268_435_455, 268_435_456, 0xffffffff];
  for (const v of varints) w.tag(1, WIRE.varint).uint32(v);
  const int64s = [-1, -(2 ** 40), 2 ** 40, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER];
  for (const v of int64s) w.tag(2, WIRE.varint).int64(v);
  w.tag(3, WIRE.bit32).fixed32(0xdeadbeef);
  w.tag(4, WIRE.bit64).fixed64NanosFromMicros(1_795_000_000_123_456);
  w.tag(5, WIRE.bit64).double(-1.5e-300);
  w.tag(6, WIRE.varint).bool(true);
  const r = new BinaryReader(w.copyOut());
  for (const v of varints) {
    t.deepEqual(r.tag(), [1, WireType.Varint]);
    t.is(r.uint32(), v);
  }
  for (const v of int64s) {
    t.deepEqual(r.tag(), [2, WireType.Varint]);
    t.is(r.int64(), BigInt(v));
  }
  t.deepEqual(r.tag(), [3, WireType.Bit32]);
  t.is(r.fixed32(), 0xdeadbeef);
  t.deepEqual(r.tag(), [4, WireType.Bit64]);
  t.is(r.fixed64(), 1_795_000_000_123_456_000n);
  t.deepEqual(r.tag(), [5, WireType.Bit64]);
  t.is(r.double(), -1.5e-300);
  t.deepEqual(r.tag(), [6, WireType.Varint]);
  t.true(r.bool());
  t.is(r.pos, r.len);
});

test('microseconds become exact nanoseconds without a bigint', (t) => {
  const micros = [0, 1, 0xffffffff, 0x100000000, 1_795_000_000_123_456, 2 ** 53 - 1];
  const w = new ProtobufSlab();
  for (const m of micros) w.fixed64NanosFromMicros(m);
  const bytes = w.copyOut();
  micros.forEach((m, i) => t.is(bytes.readBigUInt64LE(i * 8), BigInt.asUintN(64, BigInt(m) * 1000n), `${m} µs`));
});

test('strings and bytes: ASCII, multi-byte, long; nested messages of every length class', (t) => {
  const strings = ['', 'ok', 'keyward.key.id', 'é', '鍵の名前', '🔑'.repeat(40), 'x'.repeat(127), 'y'.repeat(128), 'z'.repeat(70_000), `a${'é'.repeat(42)}`];
  const w = new ProtobufSlab(16);
  for (const s of strings) {
    // Each string inside a nested message, itself inside another: both lengths are checked.
    w.tag(1, WIRE.len).fork();
    w.tag(2, WIRE.len).fork();
    w.tag(3, WIRE.len).string(s);
    w.join();
    w.tag(4, WIRE.len).bytes(Buffer.from(s));
    w.join();
  }
  const r = new BinaryReader(w.take());
  for (const s of strings) {
    t.deepEqual(r.tag(), [1, WireType.LengthDelimited]);
    const outer = new BinaryReader(r.bytes());
    t.deepEqual(outer.tag(), [2, WireType.LengthDelimited]);
    const inner = new BinaryReader(outer.bytes());
    t.deepEqual(inner.tag(), [3, WireType.LengthDelimited]);
    t.is(inner.string(), s);
    t.is(inner.pos, inner.len);
    t.deepEqual(outer.tag(), [4, WireType.LengthDelimited]);
    t.is(Buffer.from(outer.bytes()).toString(), s);
    t.is(outer.pos, outer.len);
  }
  t.is(r.pos, r.len);
  t.is(w.length, 0, 'take() starts over');
});

test('bytesOf copies a range; raw appends as is; truncate forgets a part abandoned midway', (t) => {
  const w = new ProtobufSlab();
  const source = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz');
  w.tag(1, WIRE.len).bytesOf(source, 10, 34);
  const mark = w.length;
  w.tag(2, WIRE.len).fork();
  w.raw(Buffer.alloc(300, 7));
  w.truncate(mark);
  w.raw(Buffer.from([0x10, 0x05]));
  const r = new BinaryReader(w.copyOut());
  t.deepEqual(r.tag(), [1, WireType.LengthDelimited]);
  t.is(Buffer.from(r.bytes()).toString(), 'abcdefghijklmnopqrstuvwx');
  t.deepEqual(r.tag(), [2, WireType.Varint]);
  t.is(r.uint32(), 5);
  t.is(r.pos, r.len);
});

test('join without fork and take inside a nested message are refused', (t) => {
  const w = new ProtobufSlab();
  t.throws(() => w.join(), { message: /without fork/ });
  w.tag(1, WIRE.len).fork();
  t.throws(() => w.take(), { message: /inside a nested message/ });
});
