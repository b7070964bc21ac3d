// Generates test/vectors/envelope-v1.json, the pinned test vectors of the ciphertext
// format (docs/ciphertext-format.md). Run once, from the repository root, after a
// build: `node dist/test/vectors/generate-vectors.js`. The JSON is committed and must
// never change; the generator refuses to overwrite it unless given --force, which is
// only for a new file of a new format version, never for v1.
import { existsSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { openEnvelope, sealEnvelope } from '../../src/crypto/envelope-cipher.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';

const OUT = resolve(process.cwd(), 'test', 'vectors', 'envelope-v1.json');

/** 0x00, 0x01 … 0x1f: a public, obviously-test DEK. */
const DEK_COUNTING = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
/** 0xff repeated: another public, obviously-test DEK. */
const DEK_FF = Buffer.alloc(32, 0xff);

/** `n` bytes counting up from `start`, modulo 256. */
function counting(n: number, start = 0): Buffer {
  return Buffer.from(Array.from({ length: n }, (_, i) => (start + i) & 0xff));
}

interface VectorSpec {
  description: string;
  dek: Buffer;
  keyId: string;
  keyVersion: number;
  wrappedDek: Buffer;
  plaintext: Buffer;
  associatedData: Buffer;
}

const specs: VectorSpec[] = [
  {
    description: 'empty plaintext, empty associated data, key version 1',
    dek: DEK_COUNTING,
    keyId: 'vector-key',
    keyVersion: 1,
    wrappedDek: Buffer.from('opaque-wrapped-dek-1', 'latin1'),
    plaintext: Buffer.alloc(0),
    associatedData: Buffer.alloc(0),
  },
  {
    description: '1-byte plaintext, 1-byte associated data, key version 7',
    dek: DEK_COUNTING,
    keyId: 'vector-key',
    keyVersion: 7,
    wrappedDek: Buffer.from('a0a1a2a3a4a5a6a7a8a9aaabacadaeaf', 'hex'),
    plaintext: Buffer.from([0x2a]),
    associatedData: Buffer.from([0x01]),
  },
  {
    description: '1024-byte plaintext (bytes counting up), empty associated data, 0xff DEK, key version 1',
    dek: DEK_FF,
    keyId: 'vector-key',
    keyVersion: 1,
    wrappedDek: Buffer.from('vault:v1:opaque-bytes-the-cipher-does-not-read', 'latin1'),
    plaintext: counting(1024),
    associatedData: Buffer.alloc(0),
  },
  {
    description: 'UTF-8 plaintext and UTF-8 associated data, 0xff DEK, key version 7',
    dek: DEK_FF,
    keyId: 'vector-key',
    keyVersion: 7,
    wrappedDek: Buffer.from([0x00]),
    plaintext: Buffer.from('Grüße aus keyward — 鍵 🔑', 'utf8'),
    associatedData: Buffer.from('tenant=42;table=orders', 'utf8'),
  },
  {
    description: 'empty plaintext, 1024-byte associated data, key version 7',
    dek: DEK_FF,
    keyId: 'vector-key',
    keyVersion: 7,
    wrappedDek: counting(48, 0x30),
    plaintext: Buffer.alloc(0),
    associatedData: counting(1024, 0x80),
  },
  {
    description: 'largest fields: 128-byte key id, key version 2^32-1, 1024-byte wrapped DEK, 1-byte plaintext',
    dek: DEK_COUNTING,
    keyId: `vector-key.${'X_9-'.repeat(30)}`.slice(0, 128),
    keyVersion: 0xffffffff,
    wrappedDek: counting(1024, 0x11),
    plaintext: Buffer.from('k', 'latin1'),
    associatedData: Buffer.from('ad', 'latin1'),
  },
];

function main(): void {
  if (existsSync(OUT) && !process.argv.includes('--force')) {
    console.error(`${OUT} exists: pinned vectors are never regenerated (pass --force only for a new format).`);
    process.exit(1);
  }
  const vectors = specs.map((spec) => {
    const ciphertext = sealEnvelope({
      dek: spec.dek,
      keyId: spec.keyId,
      keyVersion: spec.keyVersion,
      wrappedDek: spec.wrappedDek,
      plaintext: spec.plaintext,
      associatedData: spec.associatedData,
    });
    const env = parseEnvelope(ciphertext);
    // Check before writing: every vector opens to its plaintext.
    if (!openEnvelope(env, spec.dek, spec.associatedData).equals(spec.plaintext)) {
      throw new Error(`vector "${spec.description}" does not round trip`);
    }
    return {
      description: spec.description,
      dek: spec.dek.toString('hex'),
      keyId: spec.keyId,
      keyVersion: spec.keyVersion,
      wrappedDek: spec.wrappedDek.toString('hex'),
      plaintext: spec.plaintext.toString('hex'),
      associatedData: spec.associatedData.toString('hex'),
      salt: Buffer.from(env.salt).toString('hex'),
      nonce: Buffer.from(env.nonce).toString('hex'),
      commitment: Buffer.from(env.commitment).toString('hex'),
      headerLength: env.header.byteLength,
      tag: Buffer.from(env.tag).toString('hex'),
      ciphertext: ciphertext.toString('hex'),
    };
  });
  const file = {
    format: 'keyward envelope v1',
    document: 'docs/ciphertext-format.md',
    notice:
      'PUBLIC TEST-ONLY VALUES. The DEKs below (bytes 0x00..0x1f, and 0xff repeated) are published test keys: ' +
      'never use them, or anything sealed under them, for real data. The wrapped DEKs are arbitrary opaque bytes ' +
      '(the cipher layer carries them without interpreting them); they wrap nothing.',
    encoding: 'All byte fields are lowercase hex. "ciphertext" is the complete envelope as Encrypt returns it.',
    generatedBy: 'test/vectors/generate-vectors.ts (salt and nonce were random at generation and are pinned here)',
    vectors,
  };
  writeFileSync(OUT, `${JSON.stringify(file, null, 2)}\n`);
  console.log(`wrote ${vectors.length} vectors to ${OUT}`);
}

main();
