// Tests of the envelope v1 framing (src/crypto/envelope-format.ts): the header round
// trip, and that the parser turns every malformed input (truncation, bad magic, unknown
// version, oversized length fields) into `invalid-argument` and nothing else.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { KeywardError } from '../../src/core/keyward-error.js';
import { sealEnvelope, openEnvelope } from '../../src/crypto/envelope-cipher.js';
import {
  COMMITMENT_BYTES,
  ENVELOPE_MAGIC,
  ENVELOPE_VERSION_1,
  headerLength,
  MAX_WRAPPED_DEK_BYTES,
  MIN_ENVELOPE_BYTES,
  NONCE_BYTES,
  parseEnvelope,
  SALT_BYTES,
  writeHeader,
  type HeaderFields,
} from '../../src/crypto/envelope-format.js';
import { GCM_TAG_BYTES } from '../../src/crypto/aes-gcm.js';
import { thrownBy, unexpectedOutcome } from '../support/errors.js';

const DEK = Buffer.alloc(32, 0x42);

function fields(overrides: Partial<HeaderFields> = {}): HeaderFields {
  return {
    keyId: 'payments-db',
    keyVersion: 7,
    wrappedDek: Buffer.from('opaque wrapped dek bytes'),
    salt: Buffer.alloc(SALT_BYTES, 0xa1),
    nonce: Buffer.alloc(NONCE_BYTES, 0xb2),
    commitment: Buffer.alloc(COMMITMENT_BYTES, 0xc3),
    ...overrides,
  };
}

/** A header followed by `bodyBytes` of fake ciphertext and a fake tag. */
function framed(f: HeaderFields, bodyBytes = 5): { buf: Buffer; hLen: number } {
  const hLen = headerLength(Buffer.byteLength(f.keyId), f.wrappedDek.byteLength);
  const buf = Buffer.alloc(hLen + bodyBytes + GCM_TAG_BYTES, 0xee);
  writeExact(buf, f, hLen);
  buf.fill(0x77, hLen + bodyBytes);
  return { buf, hLen };
}

function writeExact(buf: Buffer, f: HeaderFields, hLen: number): void {
  const written = writeHeader(buf, f);
  if (written !== hLen) throw new Error(`writeHeader wrote ${written}, headerLength said ${hLen}`);
}

/** Magic, version 1, key id length byte, key id, key version, wrapped-DEK length. */
function fixedPrefix(keyId: string, keyVersion: number, wrappedLength: number): Buffer {
  const id = Buffer.from(keyId, 'latin1');
  const out = Buffer.alloc(3 + 1 + 1 + id.byteLength + 4 + 2);
  ENVELOPE_MAGIC.copy(out, 0);
  out[3] = ENVELOPE_VERSION_1;
  out[4] = id.byteLength;
  id.copy(out, 5);
  out.writeUInt32BE(keyVersion, 5 + id.byteLength);
  out.writeUInt16BE(wrappedLength, 9 + id.byteLength);
  return out;
}

function expectInvalid(t: import('ava').ExecutionContext, input: Uint8Array, message?: RegExp): KeywardError | undefined {
  const err = t.throws(() => parseEnvelope(input), { instanceOf: KeywardError, code: 'invalid-argument' });
  if (err && message) t.regex(err.message, message);
  return err;
}

function sealed(plaintext: Uint8Array, associatedData: Uint8Array = Buffer.alloc(0)): Buffer {
  return sealEnvelope({
    dek: DEK,
    keyId: 'payments-db',
    keyVersion: 3,
    wrappedDek: Buffer.from('wrapped-dek-0123456789abcdef'),
    plaintext,
    associatedData,
  });
}

test('writeHeader / parseEnvelope round trip', (t) => {
  const f = fields();
  const { buf, hLen } = framed(f, 5);
  const env = parseEnvelope(buf);
  t.is(env.keyId, f.keyId);
  t.is(env.keyVersion, f.keyVersion);
  t.deepEqual(Buffer.from(env.wrappedDek), Buffer.from(f.wrappedDek));
  t.deepEqual(Buffer.from(env.salt), Buffer.from(f.salt));
  t.deepEqual(Buffer.from(env.nonce), Buffer.from(f.nonce));
  t.deepEqual(Buffer.from(env.commitment), Buffer.from(f.commitment));
  t.is(env.header.byteLength, hLen);
  t.deepEqual(Buffer.from(env.header), buf.subarray(0, hLen));
  t.deepEqual(Buffer.from(env.ciphertext), Buffer.alloc(5, 0xee));
  t.deepEqual(Buffer.from(env.tag), Buffer.alloc(GCM_TAG_BYTES, 0x77));
  // The parse result is views into the input, not copies.
  t.is(env.header.buffer, buf.buffer);
  t.is(env.tag.buffer, buf.buffer);
});

test('header layout is byte for byte what the format document says', (t) => {
  const f = fields({ keyId: 'k', keyVersion: 0x01020304, wrappedDek: Buffer.from([0xaa, 0xbb]) });
  const { buf, hLen } = framed(f, 0);
  t.is(hLen, 3 + 1 + 1 + 1 + 4 + 2 + 2 + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES);
  t.deepEqual(
    buf.subarray(0, 14),
    Buffer.from([0x4b, 0x57, 0x45, 0x01, 0x01, 0x6b, 0x01, 0x02, 0x03, 0x04, 0x00, 0x02, 0xaa, 0xbb]),
  );
  t.deepEqual(buf.subarray(14, 14 + SALT_BYTES), Buffer.alloc(SALT_BYTES, 0xa1));
  t.deepEqual(buf.subarray(14 + SALT_BYTES, 14 + SALT_BYTES + NONCE_BYTES), Buffer.alloc(NONCE_BYTES, 0xb2));
  t.deepEqual(buf.subarray(14 + SALT_BYTES + NONCE_BYTES, hLen), Buffer.alloc(COMMITMENT_BYTES, 0xc3));
  t.is(buf.byteLength, MIN_ENVELOPE_BYTES + 1, 'a 2-byte wrapped DEK is one byte over the minimum');
});

test('the largest key id and wrapped DEK round trip', (t) => {
  const f = fields({ keyId: 'a'.repeat(128), wrappedDek: randomBytes(MAX_WRAPPED_DEK_BYTES), keyVersion: 0xffffffff });
  const env = parseEnvelope(framed(f).buf);
  t.is(env.keyId, f.keyId);
  t.is(env.keyVersion, 0xffffffff);
  t.deepEqual(Buffer.from(env.wrappedDek), Buffer.from(f.wrappedDek));
});

test('a Uint8Array view at an offset parses like a Buffer', (t) => {
  const ct = sealed(Buffer.from('hello'));
  const backing = new Uint8Array(ct.byteLength + 20);
  backing.set(ct, 7);
  const view = backing.subarray(7, 7 + ct.byteLength);
  const env = parseEnvelope(view);
  t.is(env.keyId, 'payments-db');
  t.is(env.keyVersion, 3);
  t.deepEqual(openEnvelope(env, DEK, Buffer.alloc(0)), Buffer.from('hello'));
});

test('a real sealed ciphertext parses to the fields it was sealed with', (t) => {
  const ct = sealed(Buffer.from('some plaintext'), Buffer.from('ad'));
  const env = parseEnvelope(ct);
  t.is(env.keyId, 'payments-db');
  t.is(env.keyVersion, 3);
  t.deepEqual(Buffer.from(env.wrappedDek), Buffer.from('wrapped-dek-0123456789abcdef'));
  t.is(env.ciphertext.byteLength, 'some plaintext'.length);
  t.is(ct.byteLength, headerLength(11, 28) + 14 + GCM_TAG_BYTES);
});

test('every truncation of an empty-plaintext ciphertext is invalid-argument', (t) => {
  const ct = sealed(Buffer.alloc(0));
  t.is(parseEnvelope(ct).ciphertext.byteLength, 0);
  const failures: string[] = [];
  for (let len = 0; len < ct.byteLength; len++) {
    const outcome = unexpectedOutcome(() => parseEnvelope(ct.subarray(0, len)), ['invalid-argument']);
    if (outcome) failures.push(`length ${len}: ${outcome}`);
  }
  t.deepEqual(failures, []);
});

test('every truncation of a ciphertext with a body is refused: invalid-argument, or decryption-failed once the header and a tag fit', (t) => {
  // The body has no length field: a cut inside it leaves a well-framed but shorter
  // message, which GCM authentication then refuses.
  const ct = sealed(randomBytes(100), Buffer.from('ad'));
  const hLen = parseEnvelope(ct).header.byteLength;
  const failures: string[] = [];
  let framingRefusals = 0;
  let authRefusals = 0;
  for (let len = 0; len < ct.byteLength; len++) {
    const piece = Buffer.from(ct.subarray(0, len));
    if (len < hLen + GCM_TAG_BYTES) {
      const outcome = unexpectedOutcome(() => parseEnvelope(piece), ['invalid-argument']);
      if (outcome) failures.push(`length ${len}: ${outcome}`);
      else framingRefusals += 1;
    } else {
      const outcome = unexpectedOutcome(() => openEnvelope(parseEnvelope(piece), DEK, Buffer.from('ad')), [
        'decryption-failed',
      ]);
      if (outcome) failures.push(`length ${len}: ${outcome}`);
      else authRefusals += 1;
    }
  }
  t.deepEqual(failures, []);
  t.is(framingRefusals + authRefusals, ct.byteLength);
  t.is(authRefusals, 100);
});

test('random garbage behind a valid magic and version never throws anything but invalid-argument', (t) => {
  const failures: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const buf = randomBytes(1 + (i % 300));
    if (i % 2 === 0) {
      ENVELOPE_MAGIC.copy(buf, 0, 0, Math.min(3, buf.byteLength));
      if (buf.byteLength > 3) buf[3] = ENVELOPE_VERSION_1;
      if (buf.byteLength > 4) buf[4] = 1 + (buf[4]! % 20);
    }
    const err = thrownBy(() => parseEnvelope(buf));
    if (err !== undefined && !(err instanceof KeywardError && err.code === 'invalid-argument')) {
      failures.push(`${buf.toString('hex')}: ${String(err)}`);
    }
  }
  t.deepEqual(failures, []);
});

test('a key-id length byte of 0 or 129..255 is invalid-argument, before anything is read', (t) => {
  for (const len of [0, ...Array.from({ length: 127 }, (_, i) => 129 + i)]) {
    const buf = Buffer.alloc(16, 0x61);
    ENVELOPE_MAGIC.copy(buf, 0);
    buf[3] = ENVELOPE_VERSION_1;
    buf[4] = len;
    const started = process.hrtime.bigint();
    const err = expectInvalid(t, buf, /key id length out of range/);
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    t.truthy(err, `length byte ${len}`);
    t.true(micros < 50_000, `length byte ${len} took ${micros} µs`);
  }
});

test('a key id longer than what remains is truncated, not read past the end', (t) => {
  const buf = Buffer.alloc(20, 0x61);
  ENVELOPE_MAGIC.copy(buf, 0);
  buf[3] = ENVELOPE_VERSION_1;
  buf[4] = 100;
  expectInvalid(t, buf, /truncated/);
});

test('a wrapped-DEK length of 0, 1025 or 65535 is invalid-argument on a short buffer, before anything is sliced', (t) => {
  for (const len of [0, MAX_WRAPPED_DEK_BYTES + 1, 2048, 65535]) {
    const buf = Buffer.concat([fixedPrefix('payments-db', 1, len), Buffer.alloc(8)]);
    const started = process.hrtime.bigint();
    expectInvalid(t, buf, /wrapped key length out of range/);
    const micros = Number(process.hrtime.bigint() - started) / 1000;
    t.true(micros < 50_000, `length ${len} took ${micros} µs`);
  }
});

test('an in-range wrapped-DEK length that the input cannot hold is truncated', (t) => {
  const buf = Buffer.concat([fixedPrefix('payments-db', 1, MAX_WRAPPED_DEK_BYTES), Buffer.alloc(500)]);
  expectInvalid(t, buf, /truncated/);
});

test('a bad magic is invalid-argument', (t) => {
  const good = sealed(Buffer.from('x'));
  for (let i = 0; i < 3; i++) {
    const bad = Buffer.from(good);
    bad[i] = bad[i]! ^ 0x20;
    expectInvalid(t, bad, /not a keyward ciphertext/);
  }
  expectInvalid(t, Buffer.concat([Buffer.from('{"json":true}'), Buffer.alloc(200)]), /not a keyward ciphertext/);
});

test('an unknown format version is invalid-argument naming the version', (t) => {
  const good = sealed(Buffer.from('x'));
  for (const version of [0, 2, 0x7f, 0xff]) {
    const bad = Buffer.from(good);
    bad[3] = version;
    expectInvalid(t, bad, new RegExp(`unknown format version ${version}\\b`));
  }
});

test('key version 0 is invalid-argument', (t) => {
  const buf = Buffer.concat([fixedPrefix('payments-db', 0, 4), Buffer.alloc(4 + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES + GCM_TAG_BYTES)]);
  expectInvalid(t, buf, /key version 0/);
  // The same bytes with version 1 parse: the version is what was refused.
  buf.writeUInt32BE(1, 5 + 'payments-db'.length);
  t.is(parseEnvelope(buf).keyVersion, 1);
});

test('a key id outside the pattern is invalid-argument', (t) => {
  for (const keyId of ['-leading-dash', 'has space', 'semi;colon', 'caf\u00e9', 'slash/inside', '.dot']) {
    const buf = Buffer.concat([fixedPrefix(keyId, 1, 4), Buffer.alloc(4 + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES + GCM_TAG_BYTES)]);
    expectInvalid(t, buf, /invalid key id/);
  }
});

test('inputs shorter than the fixed header are invalid-argument', (t) => {
  expectInvalid(t, new Uint8Array(0), /too short/);
  expectInvalid(t, ENVELOPE_MAGIC, /too short/);
  expectInvalid(t, Buffer.concat([ENVELOPE_MAGIC, Buffer.from([1, 1, 0x61])]), /too short/);
});

test('MIN_ENVELOPE_BYTES is the length of the smallest envelope', (t) => {
  const f = fields({ keyId: 'k', wrappedDek: Buffer.from([1]) });
  const { buf } = framed(f, 0);
  t.is(buf.byteLength, MIN_ENVELOPE_BYTES);
  t.is(parseEnvelope(buf).ciphertext.byteLength, 0);
  expectInvalid(t, buf.subarray(0, MIN_ENVELOPE_BYTES - 1), /truncated/);
});

test('writeHeader refuses what parseEnvelope would refuse', (t) => {
  const out = Buffer.alloc(4096);
  const bad: Array<[string, Partial<HeaderFields>]> = [
    ['empty key id', { keyId: '' }],
    ['129-byte key id', { keyId: 'a'.repeat(129) }],
    ['key id outside the pattern', { keyId: 'has space' }],
    ['non-ASCII key id', { keyId: 'caf\u00e9' }],
    ['empty wrapped DEK', { wrappedDek: Buffer.alloc(0) }],
    ['1025-byte wrapped DEK', { wrappedDek: Buffer.alloc(MAX_WRAPPED_DEK_BYTES + 1) }],
    ['key version 0', { keyVersion: 0 }],
    ['key version 2^32', { keyVersion: 2 ** 32 }],
    ['fractional key version', { keyVersion: 1.5 }],
    ['short salt', { salt: Buffer.alloc(SALT_BYTES - 1) }],
    ['short nonce', { nonce: Buffer.alloc(NONCE_BYTES - 1) }],
    ['long commitment', { commitment: Buffer.alloc(COMMITMENT_BYTES + 1) }],
  ];
  for (const [what, override] of bad) {
    t.throws(() => writeHeader(out, fields(override)), { instanceOf: RangeError }, what);
  }
});
