// P1363 ↔ DER conversion of ECDSA signatures, checked against node:crypto (which
// produces both encodings) and against non-canonical DER that must be refused.
import test from 'ava';
import { generateKeyPairSync, sign } from 'node:crypto';
import { derToP1363, p1363ToDer } from '../../src/crypto/ecdsa-signature-format.js';

test('round-trips node:crypto signatures in both directions, including short r or s', (t) => {
  const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  let shortSeen = false;
  // About 1 signature in 128 has an r or s with a leading zero byte: sign until one
  // has been seen (and at least 400 in all).
  for (let i = 0; i < 400 || (!shortSeen && i < 20_000); i++) {
    const message = Buffer.from(`m${i}`);
    const der = sign('sha256', message, { key: privateKey, dsaEncoding: 'der' });
    const p1363 = derToP1363(der);
    t.truthy(p1363);
    t.is(p1363!.length, 64);
    t.deepEqual(p1363ToDer(p1363!), der);
    if (p1363![0] === 0 || p1363![32] === 0) shortSeen = true;
  }
  t.true(shortSeen, 'some signatures had an integer shorter than 32 bytes');
});

test('refuses non-canonical or malformed DER', (t) => {
  const good = p1363ToDer(Buffer.concat([Buffer.alloc(32, 0x11), Buffer.alloc(32, 0x22)]));
  t.truthy(derToP1363(good));
  const cases: Record<string, Buffer> = {
    empty: Buffer.alloc(0),
    'wrong tag': Buffer.from([0x31, ...good.subarray(1)]),
    'length too long': Buffer.from([0x30, good[1]! + 1, ...good.subarray(2)]),
    'trailing byte': Buffer.concat([good, Buffer.from([0])]),
    'negative r': Buffer.from([0x30, 0x06, 0x02, 0x01, 0x80, 0x02, 0x01, 0x01]),
    'non-minimal r': Buffer.from([0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01]),
    'zero-length r': Buffer.from([0x30, 0x05, 0x02, 0x00, 0x02, 0x01, 0x01]),
    'r too large': Buffer.from([0x30, 0x26, 0x02, 0x21, 0x01, ...Buffer.alloc(32, 1), 0x02, 0x01, 0x01]),
  };
  for (const [what, der] of Object.entries(cases)) t.is(derToP1363(der), null, what);
  t.throws(() => p1363ToDer(Buffer.alloc(63)), { instanceOf: RangeError });
});
