// Signing a precomputed SHA-256 digest, as Vault Transit does for `prehashed=true`.
// node:crypto's sign() always hashes its input, so the test Vault needs these to be
// faithful: ECDSA P-256 over the digest (from @noble/curves), RSA PKCS#1 v1.5 with the
// SHA-256 DigestInfo, and RSA-PSS with EMSA-PSS encoding (RFC 8017 §9.1.1) on top of
// node:crypto's raw RSA. Test support only (the fake Vault), never product code.
import { p256 } from '@noble/curves/nist.js';
import { constants, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

// --- ECDSA P-256 (noble-curves: audited; node:crypto cannot sign a digest) ----------

/** ECDSA P-256 over a 32-byte digest; the signature as r || s (64 bytes). */
export function signDigestEcdsaP256(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || jwk.d === undefined) throw new Error('not a P-256 private key');
  return Buffer.from(p256.sign(digest, Buffer.from(jwk.d, 'base64url'), { prehash: false, lowS: false }));
}

/** Verifies an ECDSA P-256 signature (r || s) over a 32-byte digest. */
export function verifyDigestEcdsaP256(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || jwk.x === undefined || jwk.y === undefined || signature.length !== 64) return false;
  const point = Buffer.concat([Buffer.from([0x04]), Buffer.from(jwk.x, 'base64url'), Buffer.from(jwk.y, 'base64url')]);
  try {
    return p256.verify(signature, digest, point, { prehash: false, lowS: false });
  } catch {
    return false;
  }
}

// --- RSA -----------------------------------------------------------------------------

const SHA256_DIGEST_INFO = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** RSASSA-PKCS1-v1_5 over a SHA-256 digest (the DigestInfo is added here). */
export function signDigestRsaPkcs1(privateKey: KeyObject, digest: Uint8Array): Buffer {
  return privateEncrypt({ key: privateKey, padding: constants.RSA_PKCS1_PADDING }, Buffer.concat([SHA256_DIGEST_INFO, digest]));
}

function mgf1Sha256(seed: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  for (let counter = 0, offset = 0; offset < length; counter++) {
    const c = Buffer.alloc(4);
    c.writeUInt32BE(counter);
    offset += createHash('sha256').update(seed).update(c).digest().copy(out, offset);
  }
  return out;
}

/** RSASSA-PSS (SHA-256, MGF1-SHA-256) over a SHA-256 digest with `saltLength` bytes of salt. */
export function signDigestRsaPss(privateKey: KeyObject, digest: Uint8Array, saltLength: number): Buffer {
  const modulusBits = privateKey.asymmetricKeyDetails?.modulusLength;
  if (modulusBits === undefined) throw new Error('not an RSA private key');
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = 32;
  if (emLen < hLen + saltLength + 2) throw new Error('salt too long for this key');
  const salt = randomBytes(saltLength);
  const h = createHash('sha256').update(Buffer.alloc(8)).update(digest).update(salt).digest();
  const db = Buffer.alloc(emLen - hLen - 1);
  db[emLen - saltLength - hLen - 2] = 0x01;
  salt.copy(db, emLen - saltLength - hLen - 1);
  const mask = mgf1Sha256(h, db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const em = Buffer.concat([db, h, Buffer.from([0xbc])]);
  const k = Math.ceil(modulusBits / 8);
  const block = em.length < k ? Buffer.concat([Buffer.alloc(k - em.length), em]) : em;
  return privateEncrypt({ key: privateKey, padding: constants.RSA_NO_PADDING }, block);
}

/** Verifies RSASSA-PKCS1-v1_5 over a SHA-256 digest. */
export function verifyDigestRsaPkcs1(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  try {
    const recovered = publicDecrypt({ key: publicKey, padding: constants.RSA_PKCS1_PADDING }, signature);
    const expected = Buffer.concat([SHA256_DIGEST_INFO, digest]);
    return recovered.length === expected.length && timingSafeEqual(recovered, expected);
  } catch {
    return false;
  }
}

/** Verifies RSASSA-PSS (SHA-256, MGF1-SHA-256) over a SHA-256 digest; `saltLength` undefined = any. */
export function verifyDigestRsaPss(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array, saltLength: number | undefined): boolean {
  const modulusBits = publicKey.asymmetricKeyDetails?.modulusLength;
  if (modulusBits === undefined) return false;
  let block: Buffer;
  try {
    block = publicDecrypt({ key: publicKey, padding: constants.RSA_NO_PADDING }, signature);
  } catch {
    return false;
  }
  const emBits = modulusBits - 1;
  const emLen = Math.ceil(emBits / 8);
  const hLen = 32;
  const em = block.subarray(block.length - emLen);
  if (block.length > emLen && block[0] !== 0) return false;
  if (em[emLen - 1] !== 0xbc) return false;
  const db = Buffer.from(em.subarray(0, emLen - hLen - 1));
  const h = em.subarray(emLen - hLen - 1, emLen - 1);
  const topBits = 0xff << (8 - (8 * emLen - emBits));
  if ((db[0]! & topBits & 0xff) !== 0) return false;
  const mask = mgf1Sha256(Buffer.from(h), db.length);
  for (let i = 0; i < db.length; i++) db[i]! ^= mask[i]!;
  db[0]! &= 0xff >> (8 * emLen - emBits);
  const one = db.indexOf(1);
  if (one < 0 || db.subarray(0, one).some((b) => b !== 0)) return false;
  const salt = db.subarray(one + 1);
  if (saltLength !== undefined && salt.length !== saltLength) return false;
  const expected = createHash('sha256').update(Buffer.alloc(8)).update(digest).update(salt).digest();
  return timingSafeEqual(expected, h);
}

/** The largest PSS salt for a key and SHA-256 (what Go's PSSSaltLengthAuto signs with). */
export function maxPssSaltLength(modulusBits: number): number {
  return Math.ceil((modulusBits - 1) / 8) - 2 - 32;
}
