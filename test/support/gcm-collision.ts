// Builds an AES-256-GCM ciphertext that authenticates under two different keys (the
// "invisible salamanders" construction: GHASH is linear, so one free ciphertext block
// can be solved for). Plain GCM is not key-committing; the tests use this to prove that
// the envelope's commitment is what makes a ciphertext open under exactly one DEK.
import { createCipheriv } from 'node:crypto';

const R = 0xe1n << 120n;
const MASK = (1n << 128n) - 1n;

function toBig(block: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(block).toString('hex') || '0'}`);
}

function toBlock(x: bigint): Buffer {
  return Buffer.from(x.toString(16).padStart(32, '0'), 'hex');
}

/** Multiplication in GF(2^128) with GCM's bit order (NIST SP 800-38D, algorithm 1). */
function gfMul(x: bigint, y: bigint): bigint {
  let z = 0n;
  let v = y;
  for (let i = 127n; i >= 0n; i--) {
    if ((x >> i) & 1n) z ^= v;
    v = v & 1n ? (v >> 1n) ^ R : v >> 1n;
  }
  return z & MASK;
}

function gfPow(x: bigint, e: bigint): bigint {
  let result = 1n << 127n; // the multiplicative identity in GCM's bit order
  let base = x;
  for (let k = e; k > 0n; k >>= 1n) {
    if (k & 1n) result = gfMul(result, base);
    base = gfMul(base, base);
  }
  return result;
}

function gfInv(x: bigint): bigint {
  return gfPow(x, (1n << 128n) - 2n);
}

function aesBlock(key: Uint8Array, block: Uint8Array): bigint {
  const c = createCipheriv('aes-256-ecb', key, null);
  c.setAutoPadding(false);
  return toBig(Buffer.concat([c.update(block), c.final()]));
}

/** The 16-byte blocks GHASH runs over: padded AAD, padded ciphertext, the two bit lengths. */
function ghashBlocks(aad: Uint8Array, ciphertext: Uint8Array): bigint[] {
  const pad = (b: Uint8Array): Buffer => Buffer.concat([Buffer.from(b), Buffer.alloc((16 - (b.byteLength % 16)) % 16)]);
  const lengths = Buffer.alloc(16);
  lengths.writeBigUInt64BE(BigInt(aad.byteLength) * 8n, 0);
  lengths.writeBigUInt64BE(BigInt(ciphertext.byteLength) * 8n, 8);
  const all = Buffer.concat([pad(aad), pad(ciphertext), lengths]);
  const blocks: bigint[] = [];
  for (let i = 0; i < all.byteLength; i += 16) blocks.push(toBig(all.subarray(i, i + 16)));
  return blocks;
}

function ghash(h: bigint, blocks: bigint[]): bigint {
  let x = 0n;
  for (const b of blocks) x = gfMul(x ^ b, h);
  return x;
}

/**
 * A 32-byte ciphertext and a tag that verify under both `key1` and `key2` with the
 * 12-byte `nonce` and `aad`.
 */
export function twoKeyGcmCiphertext(
  key1: Uint8Array,
  key2: Uint8Array,
  nonce: Uint8Array,
  aad: Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  if (nonce.byteLength !== 12) throw new RangeError('12-byte nonce only');
  const j0 = Buffer.concat([Buffer.from(nonce), Buffer.from([0, 0, 0, 1])]);
  const zero = Buffer.alloc(16);
  const h1 = aesBlock(key1, zero);
  const h2 = aesBlock(key2, zero);
  const e1 = aesBlock(key1, j0);
  const e2 = aesBlock(key2, j0);
  // Ciphertext: a free block X, then a fixed block. With X = 0, compute both GHASHes.
  const fixed = Buffer.alloc(16, 0x5a);
  const base = Buffer.concat([zero, fixed]);
  const blocks = ghashBlocks(aad, base);
  const g1 = ghash(h1, blocks);
  const g2 = ghash(h2, blocks);
  // X enters GHASH multiplied by H^p, p = number of blocks from X's position to the end.
  const xIndex = Math.ceil(aad.byteLength / 16);
  const p = BigInt(blocks.length - xIndex);
  const coeff = gfPow(h1, p) ^ gfPow(h2, p);
  const x = gfMul(e1 ^ g1 ^ e2 ^ g2, gfInv(coeff));
  const tag = e1 ^ g1 ^ gfMul(x, gfPow(h1, p));
  return { ciphertext: Buffer.concat([toBlock(x), fixed]), tag: toBlock(tag) };
}
