// Pins the ciphertext format: every vector in test/vectors/envelope-v1.json, sealed
// once and committed, must parse to its listed header fields and open to its
// plaintext forever. A second check rebuilds each envelope from the listed fields
// with node:crypto alone, following docs/ciphertext-format.md, so the document, the
// vectors and the code are held to the same bytes.
import test from 'ava';
import { createCipheriv, hkdfSync } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { DECRYPTION_FAILED_MESSAGE, KeywardError } from '../../src/core/keyward-error.js';
import { openEnvelope } from '../../src/crypto/envelope-cipher.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';

interface Vector {
  description: string;
  dek: string;
  keyId: string;
  keyVersion: number;
  wrappedDek: string;
  plaintext: string;
  associatedData: string;
  salt: string;
  nonce: string;
  commitment: string;
  headerLength: number;
  tag: string;
  ciphertext: string;
}

interface VectorFile {
  format: string;
  vectors: Vector[];
}

// The JSON is not copied into dist/: read it from the source tree (ava runs at the repo root).
const VECTORS_PATH = resolve(process.cwd(), 'test', 'vectors', 'envelope-v1.json');
const EXPECTED_VECTORS = 6;

function load(): VectorFile {
  if (!existsSync(VECTORS_PATH)) throw new Error(`pinned vectors not found at ${VECTORS_PATH} (run ava from the repository root)`);
  return JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as VectorFile;
}

const hex = (s: string): Buffer => Buffer.from(s, 'hex');

/** The header as docs/ciphertext-format.md lays it out, built without envelope-format.ts. */
function documentedHeader(v: Vector): Buffer {
  const keyId = Buffer.from(v.keyId, 'ascii');
  const version = Buffer.alloc(4);
  version.writeUInt32BE(v.keyVersion);
  const wrapped = hex(v.wrappedDek);
  const wrappedLength = Buffer.alloc(2);
  wrappedLength.writeUInt16BE(wrapped.byteLength);
  return Buffer.concat([
    Buffer.from('KWE', 'ascii'),
    Buffer.from([0x01, keyId.byteLength]),
    keyId,
    version,
    wrappedLength,
    wrapped,
    hex(v.salt),
    hex(v.nonce),
    hex(v.commitment),
  ]);
}

test('the vector file is the v1 file with all its vectors', (t) => {
  const file = load();
  t.is(file.format, 'keyward envelope v1');
  t.is(file.vectors.length, EXPECTED_VECTORS);
  const versions = new Set(file.vectors.map((v) => v.keyVersion));
  t.true(versions.has(1) && versions.has(7));
  const ptSizes = new Set(file.vectors.map((v) => v.plaintext.length / 2));
  t.true(ptSizes.has(0) && ptSizes.has(1) && ptSizes.has(1024));
});

test('every pinned vector parses to its listed header fields', (t) => {
  const { vectors } = load();
  t.is(vectors.length, EXPECTED_VECTORS);
  for (const v of vectors) {
    const ct = hex(v.ciphertext);
    const env = parseEnvelope(ct);
    t.is(env.keyId, v.keyId, v.description);
    t.is(env.keyVersion, v.keyVersion, v.description);
    t.is(Buffer.from(env.wrappedDek).toString('hex'), v.wrappedDek, v.description);
    t.is(Buffer.from(env.salt).toString('hex'), v.salt, v.description);
    t.is(Buffer.from(env.nonce).toString('hex'), v.nonce, v.description);
    t.is(Buffer.from(env.commitment).toString('hex'), v.commitment, v.description);
    t.is(env.header.byteLength, v.headerLength, v.description);
    t.is(Buffer.from(env.tag).toString('hex'), v.tag, v.description);
    t.is(env.ciphertext.byteLength, v.plaintext.length / 2, v.description);
    t.deepEqual(Buffer.from(env.header), documentedHeader(v), v.description);
  }
});

test('every pinned vector opens to its plaintext with openEnvelope', (t) => {
  const { vectors } = load();
  let opened = 0;
  for (const v of vectors) {
    const env = parseEnvelope(hex(v.ciphertext));
    const plaintext = openEnvelope(env, hex(v.dek), hex(v.associatedData));
    t.is(plaintext.toString('hex'), v.plaintext, v.description);
    opened += 1;
  }
  t.is(opened, EXPECTED_VECTORS);
});

test('every pinned vector is refused with other associated data or the other test DEK', (t) => {
  const { vectors } = load();
  for (const v of vectors) {
    const env = parseEnvelope(hex(v.ciphertext));
    const otherAd = Buffer.concat([hex(v.associatedData), Buffer.from([0])]);
    t.throws(() => openEnvelope(env, hex(v.dek), otherAd), { instanceOf: KeywardError, code: 'decryption-failed', message: DECRYPTION_FAILED_MESSAGE }, v.description);
    const otherDek = hex(v.dek).map((b) => b ^ 0xff);
    t.throws(() => openEnvelope(env, Buffer.from(otherDek), hex(v.associatedData)), { instanceOf: KeywardError, code: 'decryption-failed' }, v.description);
  }
});

test('every pinned vector is reproduced from the documented construction with node:crypto alone', (t) => {
  const { vectors } = load();
  for (const v of vectors) {
    const okm = Buffer.from(hkdfSync('sha256', hex(v.dek), hex(v.salt), Buffer.from('keyward/v1 message key and commitment', 'ascii'), 64));
    const messageKey = okm.subarray(0, 32);
    t.is(okm.subarray(32).toString('hex'), v.commitment, `${v.description}: commitment`);
    const header = documentedHeader(v);
    const cipher = createCipheriv('aes-256-gcm', messageKey, hex(v.nonce), { authTagLength: 16 });
    cipher.setAAD(Buffer.concat([header, hex(v.associatedData)]));
    const body = Buffer.concat([cipher.update(hex(v.plaintext)), cipher.final()]);
    const rebuilt = Buffer.concat([header, body, cipher.getAuthTag()]);
    t.is(rebuilt.toString('hex'), v.ciphertext, v.description);
  }
});
