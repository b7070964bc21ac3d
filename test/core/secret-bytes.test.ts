// Tests of SecretBytes (src/core/secret-bytes.ts): it never prints its bytes, however
// it is turned into text; it owns memory outside Node's shared pool; dispose zeroizes
// and makes further use throw.
import test from 'ava';
import { format, inspect } from 'node:util';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import { isAllZero } from '../support/errors.js';

/** A recognisable secret whose hex and base64 forms a leak would show. */
const SECRET = Buffer.from('5ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7e75ec7', 'hex');

function leaks(text: string): string[] {
  const forms = [
    SECRET.toString('hex'),
    SECRET.toString('base64'),
    SECRET.toString('base64url'),
    SECRET.subarray(0, 8).toString('hex'),
    '5e c7 e7',
    '94, 199, 231', // the first bytes as decimals, as inspect would print a Uint8Array
  ];
  return forms.filter((f) => text.toLowerCase().includes(f.toLowerCase()));
}

test('every way of turning it into text gives [redacted]', (t) => {
  const s = SecretBytes.copyOf(SECRET);
  const texts: Record<string, string> = {
    toStringCall: s.toString(),
    String: String(s),
    template: `${s}`,
    concat: '' + s,
    json: JSON.stringify(s),
    inspect: inspect(s),
    inspectDeep: inspect({ nested: { dek: s } }, { depth: 10, showHidden: true }),
    formatS: format('%s', s),
    formatO: format('%O', s),
    formato: format('%o', s),
    formatJ: format('%j', { dek: s }),
    jsonNested: JSON.stringify({ dek: s, list: [s] }),
  };
  t.is(texts.toStringCall, '[redacted]');
  t.is(texts.String, '[redacted]');
  t.is(texts.template, '[redacted]');
  t.is(texts.concat, '[redacted]');
  t.is(texts.json, '"[redacted]"');
  t.is(texts.inspect, '[redacted]');
  t.is(texts.formatS, '[redacted]');
  t.is(texts.jsonNested, '{"dek":"[redacted]","list":["[redacted]"]}');
  for (const [how, text] of Object.entries(texts)) {
    t.deepEqual(leaks(text), [], `${how} leaked: ${text}`);
    t.true(text.includes('[redacted]'), `${how}: ${text}`);
  }
});

test('no enumerable property exposes the bytes', (t) => {
  const s = SecretBytes.copyOf(SECRET);
  t.deepEqual(Object.keys(s), []);
  t.deepEqual(Object.getOwnPropertyNames(s), []);
  t.deepEqual({ ...s }, {});
});

test('the leak detector itself finds a leak (it can fail)', (t) => {
  t.true(leaks(SECRET.toString('hex')).length > 0);
  t.true(leaks(inspect(new Uint8Array(SECRET))).length > 0);
  t.true(leaks(inspect(Buffer.from(SECRET))).length > 0);
});

test('expose() returns the bytes; after dispose it throws, and the bytes are zero', (t) => {
  const s = SecretBytes.copyOf(SECRET);
  const held = s.expose();
  t.deepEqual(held, SECRET);
  t.is(s.length, 32);
  t.false(s.disposed);
  s.dispose();
  t.true(s.disposed);
  t.true(isAllZero(held));
  t.is(held.byteLength, 32);
  t.throws(() => s.expose(), { message: /after dispose/ });
  t.throws(() => s.clone());
  t.notThrows(() => s.dispose(), 'dispose is idempotent');
});

test('copyOf does not alias the source', (t) => {
  const source = Buffer.from(SECRET);
  const s = SecretBytes.copyOf(source);
  t.not(s.expose().buffer, source.buffer);
  source.fill(0x11);
  t.deepEqual(s.expose(), SECRET, 'changing the source does not change the copy');
  s.dispose();
  t.deepEqual(source, Buffer.alloc(32, 0x11), 'disposing the copy does not zero the source');
});

test('copyOf a view into a larger buffer copies only the view', (t) => {
  const big = Buffer.alloc(100, 0x22);
  SECRET.copy(big, 10);
  const s = SecretBytes.copyOf(big.subarray(10, 42));
  const b = s.expose();
  t.deepEqual(b, SECRET);
  t.is(b.byteLength, b.buffer.byteLength);
  t.is(b.byteOffset, 0);
});

test('clone is an independent copy', (t) => {
  const s = SecretBytes.copyOf(SECRET);
  const c = s.clone();
  t.not(c.expose().buffer, s.expose().buffer);
  s.dispose();
  t.deepEqual(c.expose(), SECRET);
});

test('random() owns its memory, outside the shared pool', (t) => {
  const seen = new Set<ArrayBufferLike>();
  for (const length of [1, 16, 32, 64, 4095]) {
    const s = SecretBytes.random(length);
    const b = s.expose();
    t.is(b.byteLength, length);
    t.is(b.buffer.byteLength, b.byteLength, `random(${length}) is a view into a larger (pooled) buffer`);
    t.is(b.byteOffset, 0);
    t.false(seen.has(b.buffer));
    seen.add(b.buffer);
  }
  // A pooled allocation, for contrast, shares a larger ArrayBuffer.
  const pooled = Buffer.allocUnsafe(32);
  t.true(pooled.buffer.byteLength > pooled.byteLength);
});

test('copyOf owns its memory, outside the shared pool', (t) => {
  const b = SecretBytes.copyOf(SECRET).expose();
  t.is(b.buffer.byteLength, b.byteLength);
});

test('random() gives different bytes each time, not zeros', (t) => {
  const a = SecretBytes.random(32).expose();
  const b = SecretBytes.random(32).expose();
  t.false(a.equals(b));
  t.false(isAllZero(a));
});

test('disposing one SecretBytes zeroizes nothing else', (t) => {
  const a = SecretBytes.random(32);
  const b = SecretBytes.random(32);
  const bBefore = Buffer.from(b.expose());
  a.dispose();
  t.deepEqual(b.expose(), bBefore);
});
