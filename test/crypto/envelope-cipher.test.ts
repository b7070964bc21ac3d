// Tests of sealing and opening envelope v1 messages (src/crypto/envelope-cipher.ts):
// round trips, and that any change to the ciphertext, the associated data or the DEK
// is refused with the one fixed decryption-failed message.
import test from 'ava';
import { hkdfSync, randomBytes } from 'node:crypto';
import { DECRYPTION_FAILED_MESSAGE, KeywardError } from '../../src/core/keyward-error.js';
import { aesGcmOpen } from '../../src/crypto/aes-gcm.js';
import { openEnvelope, sealEnvelope, type SealInput } from '../../src/crypto/envelope-cipher.js';
import { headerLength, parseEnvelope, writeHeader } from '../../src/crypto/envelope-format.js';
import { thrownBy } from '../support/errors.js';
import { twoKeyGcmCiphertext } from '../support/gcm-collision.js';

const DEK = randomBytes(32);

function input(overrides: Partial<SealInput> = {}): SealInput {
  return {
    dek: DEK,
    keyId: 'orders.v2_key',
    keyVersion: 12,
    wrappedDek: randomBytes(60),
    plaintext: Buffer.from('attack at dawn'),
    associatedData: Buffer.from('tenant=42'),
    ...overrides,
  };
}

function open(ct: Uint8Array, dek: Buffer, ad: Uint8Array): Buffer {
  return openEnvelope(parseEnvelope(ct), dek, ad);
}

for (const [name, size] of [
  ['empty', 0],
  ['1-byte', 1],
  ['64 KiB', 64 * 1024],
] as const) {
  test(`round trip, plaintext ${name}`, (t) => {
    const plaintext = randomBytes(size);
    for (const associatedData of [Buffer.alloc(0), Buffer.from('context'), randomBytes(4096)]) {
      const ct = sealEnvelope(input({ plaintext, associatedData }));
      const env = parseEnvelope(ct);
      t.is(env.keyId, 'orders.v2_key');
      t.is(env.keyVersion, 12);
      t.is(env.ciphertext.byteLength, size);
      t.deepEqual(openEnvelope(env, DEK, associatedData), plaintext);
    }
  });
}

test('the plaintext does not appear in the ciphertext', (t) => {
  const plaintext = Buffer.from('a very recognisable plaintext string, repeated. '.repeat(4));
  const ct = sealEnvelope(input({ plaintext }));
  t.is(ct.indexOf(plaintext.subarray(0, 16)), -1);
});

test('every single-bit flip of a ciphertext is refused', (t) => {
  const associatedData = Buffer.from('ad');
  const ct = sealEnvelope(input({ plaintext: Buffer.from('0123456789abcdef!'), wrappedDek: randomBytes(8), associatedData }));
  t.deepEqual(open(ct, DEK, associatedData), Buffer.from('0123456789abcdef!'));
  const failures: string[] = [];
  let decryptionFailed = 0;
  let invalidArgument = 0;
  for (let bit = 0; bit < ct.byteLength * 8; bit++) {
    const bad = Buffer.from(ct);
    bad[bit >> 3] = bad[bit >> 3]! ^ (1 << (bit & 7));
    const err = thrownBy(() => open(bad, DEK, associatedData));
    const where = `byte ${bit >> 3} bit ${bit & 7}`;
    if (!(err instanceof KeywardError)) {
      failures.push(`${where}: ${err === undefined ? 'accepted' : String(err)}`);
    } else if (err.code === 'decryption-failed') {
      decryptionFailed += 1;
      if (err.message !== DECRYPTION_FAILED_MESSAGE) failures.push(`${where}: message "${err.message}"`);
    } else if (err.code === 'invalid-argument') {
      invalidArgument += 1;
    } else {
      failures.push(`${where}: code ${err.code}`);
    }
  }
  t.deepEqual(failures, []);
  t.is(decryptionFailed + invalidArgument, ct.byteLength * 8);
  // Salt, nonce, commitment, wrapped DEK, body and tag are not framing: most flips
  // must reach authentication.
  t.true(decryptionFailed > ct.byteLength * 4, `only ${decryptionFailed} flips reached authentication`);
});

test('wrong associated data is decryption-failed', (t) => {
  const ct = sealEnvelope(input({ associatedData: Buffer.from('tenant=42') }));
  for (const ad of [Buffer.from('tenant=43'), Buffer.alloc(0), Buffer.from('tenant=42 '), Buffer.from('tenant=4')]) {
    const err = t.throws(() => open(ct, DEK, ad), { instanceOf: KeywardError, code: 'decryption-failed' });
    t.is(err?.message, DECRYPTION_FAILED_MESSAGE);
  }
  const noAd = sealEnvelope(input({ associatedData: Buffer.alloc(0) }));
  t.throws(() => open(noAd, DEK, Buffer.from([0])), { code: 'decryption-failed' });
});

test('a wrong DEK is decryption-failed (the key commitment refuses it)', (t) => {
  const ct = sealEnvelope(input());
  const other = Buffer.from(DEK);
  other[31] = other[31]! ^ 0x80;
  for (const dek of [other, randomBytes(32), Buffer.alloc(32)]) {
    const err = t.throws(() => open(ct, dek, Buffer.from('tenant=42')), { instanceOf: KeywardError, code: 'decryption-failed' });
    t.is(err?.message, DECRYPTION_FAILED_MESSAGE);
  }
});

test('key commitment: a ciphertext crafted to authenticate under two DEKs opens under only one', (t) => {
  // Plain GCM accepts a ciphertext built for two keys; the envelope must not.
  const dek1 = randomBytes(32);
  const dek2 = randomBytes(32);
  const salt = randomBytes(32);
  const nonce = randomBytes(12);
  const info = Buffer.from('keyward/v1 message key and commitment', 'latin1');
  const okm1 = Buffer.from(hkdfSync('sha256', dek1, salt, info, 64));
  const okm2 = Buffer.from(hkdfSync('sha256', dek2, salt, info, 64));
  const wrappedDek = randomBytes(16);
  const header = Buffer.alloc(headerLength('vector-key'.length, wrappedDek.byteLength));
  writeHeader(header, { keyId: 'vector-key', keyVersion: 1, wrappedDek, salt, nonce, commitment: okm1.subarray(32) });
  const ad = Buffer.from('tenant=42');
  const aad = Buffer.concat([header, ad]);
  const { ciphertext, tag } = twoKeyGcmCiphertext(okm1.subarray(0, 32), okm2.subarray(0, 32), nonce, aad);
  // Precondition: the GCM layer alone accepts it under both message keys.
  const p1 = aesGcmOpen(okm1.subarray(0, 32), nonce, ciphertext, tag, aad);
  const p2 = aesGcmOpen(okm2.subarray(0, 32), nonce, ciphertext, tag, aad);
  t.not(p1, null);
  t.not(p2, null);
  t.false(p1!.equals(p2!), 'the two keys decrypt it to different plaintexts');
  const env = parseEnvelope(Buffer.concat([header, ciphertext, tag]));
  t.deepEqual(openEnvelope(env, dek1, ad), p1);
  t.throws(() => openEnvelope(env, dek2, ad), { instanceOf: KeywardError, code: 'decryption-failed', message: DECRYPTION_FAILED_MESSAGE });
});

test('the commitment is checked: a replaced commitment is decryption-failed even with the right DEK', (t) => {
  const ct = sealEnvelope(input());
  const env = parseEnvelope(ct);
  const bad = Buffer.from(ct);
  const commitmentOffset = env.commitment.byteOffset - ct.byteOffset;
  randomBytes(32).copy(bad, commitmentOffset);
  t.throws(() => open(bad, DEK, Buffer.from('tenant=42')), { code: 'decryption-failed', message: DECRYPTION_FAILED_MESSAGE });
});

test('a header spliced from another message is refused', (t) => {
  const a = sealEnvelope(input({ plaintext: Buffer.from('message A') }));
  const b = sealEnvelope(input({ plaintext: Buffer.from('message B') }));
  const ea = parseEnvelope(a);
  const eb = parseEnvelope(b);
  const spliced = Buffer.concat([ea.header, eb.ciphertext, eb.tag]);
  t.throws(() => open(spliced, DEK, Buffer.from('tenant=42')), { code: 'decryption-failed' });
});

test('two seals of the same plaintext differ in salt, nonce, commitment and body', (t) => {
  const wrappedDek = randomBytes(40);
  const a = parseEnvelope(sealEnvelope(input({ wrappedDek })));
  const b = parseEnvelope(sealEnvelope(input({ wrappedDek })));
  t.notDeepEqual(Buffer.from(a.salt), Buffer.from(b.salt));
  t.notDeepEqual(Buffer.from(a.nonce), Buffer.from(b.nonce));
  t.notDeepEqual(Buffer.from(a.commitment), Buffer.from(b.commitment));
  t.notDeepEqual(Buffer.from(a.ciphertext), Buffer.from(b.ciphertext));
  t.notDeepEqual(Buffer.from(a.tag), Buffer.from(b.tag));
  t.deepEqual(Buffer.from(a.wrappedDek), Buffer.from(b.wrappedDek));
});

test('salts do not repeat over many seals', (t) => {
  const seen = new Set<string>();
  for (let i = 0; i < 2000; i++) {
    const env = parseEnvelope(sealEnvelope(input({ plaintext: Buffer.alloc(0) })));
    seen.add(Buffer.from(env.salt).toString('hex'));
  }
  t.is(seen.size, 2000);
});

test('the caller\'s DEK buffer is left intact by seal and open', (t) => {
  const dek = randomBytes(32);
  const copy = Buffer.from(dek);
  const ct = sealEnvelope(input({ dek }));
  open(ct, dek, Buffer.from('tenant=42'));
  t.deepEqual(dek, copy);
});

test('sealing with a key id the parser would refuse throws instead of writing an unreadable ciphertext', (t) => {
  t.throws(() => sealEnvelope(input({ keyId: 'has space' })), { instanceOf: RangeError });
  t.throws(() => sealEnvelope(input({ keyVersion: 0 })), { instanceOf: RangeError });
});
