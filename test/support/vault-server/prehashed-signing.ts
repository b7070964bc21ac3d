// Signing a precomputed SHA-256 digest, as Vault Transit does for `prehashed=true`.
// node:crypto's sign() always hashes its input, so the test Vault needs these to be
// faithful: ECDSA P-256 over the digest (BigInt arithmetic on the curve), RSA PKCS#1 v1.5
// with the SHA-256 DigestInfo, and RSA-PSS with EMSA-PSS encoding (RFC 8017 §9.1.1).
// Test support only: not constant time, and it need not be.
import { constants, createHash, privateEncrypt, publicDecrypt, randomBytes, timingSafeEqual, type KeyObject } from 'node:crypto';

// --- ECDSA P-256 -------------------------------------------------------------------

const P = 0xffffffff00000001000000000000000000000000ffffffffffffffffffffffffn;
const N = 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n;
const GX = 0x6b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c296n;
const GY = 0x4fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5n;

const mod = (a: bigint, m: bigint) => ((a % m) + m) % m;

function invert(a: bigint, m: bigint): bigint {
  let [oldR, r] = [mod(a, m), m];
  let [oldS, s] = [1n, 0n];
  while (r !== 0n) {
    const q = oldR / r;
    [oldR, r] = [r, oldR - q * r];
    [oldS, s] = [s, oldS - q * s];
  }
  return mod(oldS, m);
}

/** A point in Jacobian coordinates; Z = 0 is the point at infinity. */
type Jacobian = readonly [bigint, bigint, bigint];

function double([x, y, z]: Jacobian): Jacobian {
  if (z === 0n || y === 0n) return [0n, 1n, 0n];
  // dbl-2001-b, a = -3
  const delta = mod(z * z, P);
  const gamma = mod(y * y, P);
  const beta = mod(x * gamma, P);
  const alpha = mod(3n * (x - delta) * (x + delta), P);
  const x3 = mod(alpha * alpha - 8n * beta, P);
  const z3 = mod((y + z) * (y + z) - gamma - delta, P);
  const y3 = mod(alpha * (4n * beta - x3) - 8n * gamma * gamma, P);
  return [x3, y3, z3];
}

function add(a: Jacobian, b: Jacobian): Jacobian {
  if (a[2] === 0n) return b;
  if (b[2] === 0n) return a;
  // add-2007-bl
  const z1z1 = mod(a[2] * a[2], P);
  const z2z2 = mod(b[2] * b[2], P);
  const u1 = mod(a[0] * z2z2, P);
  const u2 = mod(b[0] * z1z1, P);
  const s1 = mod(a[1] * b[2] * z2z2, P);
  const s2 = mod(b[1] * a[2] * z1z1, P);
  const h = mod(u2 - u1, P);
  const r = mod(2n * (s2 - s1), P);
  if (h === 0n) return r === 0n ? double(a) : [0n, 1n, 0n];
  const i = mod(4n * h * h, P);
  const j = mod(h * i, P);
  const v = mod(u1 * i, P);
  const x3 = mod(r * r - j - 2n * v, P);
  const y3 = mod(r * (v - x3) - 2n * s1 * j, P);
  const z3 = mod(((a[2] + b[2]) * (a[2] + b[2]) - z1z1 - z2z2) * h, P);
  return [x3, y3, z3];
}

function multiply(point: Jacobian, k: bigint): Jacobian {
  let result: Jacobian = [0n, 1n, 0n];
  let addend = point;
  for (let e = k; e > 0n; e >>= 1n) {
    if (e & 1n) result = add(result, addend);
    addend = double(addend);
  }
  return result;
}

/** The affine x of a Jacobian point (undefined at infinity). */
function affineX(point: Jacobian): bigint | undefined {
  if (point[2] === 0n) return undefined;
  const zInv = invert(point[2], P);
  return mod(point[0] * zInv * zInv, P);
}

function multiplyG(k: bigint): bigint {
  return affineX(multiply([GX, GY, 1n], k)) ?? 0n;
}

const toBigInt = (bytes: Uint8Array) => BigInt(`0x${Buffer.from(bytes).toString('hex') || '0'}`);
const toBytes32 = (n: bigint) => Buffer.from(n.toString(16).padStart(64, '0'), 'hex');

/** ECDSA P-256 over a 32-byte digest; the signature as r || s (64 bytes). */
export function signDigestEcdsaP256(privateKey: KeyObject, digest: Uint8Array): Buffer {
  const jwk = privateKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || jwk.d === undefined) throw new Error('not a P-256 private key');
  const d = toBigInt(Buffer.from(jwk.d, 'base64url'));
  const z = toBigInt(digest.subarray(0, 32));
  for (;;) {
    const k = mod(toBigInt(randomBytes(40)), N - 1n) + 1n;
    const r = mod(multiplyG(k), N);
    if (r === 0n) continue;
    const s = mod(invert(k, N) * (z + r * d), N);
    if (s === 0n) continue;
    return Buffer.concat([toBytes32(r), toBytes32(s)]);
  }
}

/** Verifies an ECDSA P-256 signature (r || s) over a 32-byte digest. */
export function verifyDigestEcdsaP256(publicKey: KeyObject, digest: Uint8Array, signature: Uint8Array): boolean {
  const jwk = publicKey.export({ format: 'jwk' });
  if (jwk.crv !== 'P-256' || jwk.x === undefined || jwk.y === undefined || signature.length !== 64) return false;
  const r = toBigInt(signature.subarray(0, 32));
  const s = toBigInt(signature.subarray(32));
  if (r <= 0n || r >= N || s <= 0n || s >= N) return false;
  const q: Jacobian = [toBigInt(Buffer.from(jwk.x, 'base64url')), toBigInt(Buffer.from(jwk.y, 'base64url')), 1n];
  const w = invert(s, N);
  const u1 = mod(toBigInt(digest.subarray(0, 32)) * w, N);
  const u2 = mod(r * w, N);
  const x = affineX(add(multiply([GX, GY, 1n], u1), multiply(q, u2)));
  return x !== undefined && mod(x, N) === r;
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
