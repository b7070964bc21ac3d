// AES-GCM with 128-bit tags from node:crypto: the AEAD under the envelope format. Key
// size follows the key (16, 24 or 32 bytes); the envelope always uses 32.
import { createCipheriv, createDecipheriv, type CipherGCMTypes } from 'node:crypto';

export const GCM_TAG_BYTES = 16;

function gcmCipherName(key: Uint8Array): CipherGCMTypes {
  switch (key.byteLength) {
    case 16:
      return 'aes-128-gcm';
    case 24:
      return 'aes-192-gcm';
    case 32:
      return 'aes-256-gcm';
    default:
      throw new RangeError(`AES-GCM key must be 16, 24 or 32 bytes, got ${key.byteLength}`);
  }
}

function checkIv(iv: Uint8Array): void {
  if (iv.byteLength === 0) throw new RangeError('AES-GCM nonce must not be empty');
}

/** Encrypts `plaintext` and returns ciphertext and the 16-byte tag. */
export function aesGcmSeal(
  key: Uint8Array,
  iv: Uint8Array,
  plaintext: Uint8Array,
  aad: Uint8Array,
): { ciphertext: Buffer; tag: Buffer } {
  checkIv(iv);
  const cipher = createCipheriv(gcmCipherName(key), key, iv, { authTagLength: GCM_TAG_BYTES });
  if (aad.byteLength > 0) cipher.setAAD(aad);
  const body = cipher.update(plaintext);
  const tail = cipher.final();
  const ciphertext = tail.byteLength === 0 ? body : Buffer.concat([body, tail]);
  return { ciphertext, tag: cipher.getAuthTag() };
}

/**
 * Decrypts and authenticates. Returns null when authentication fails (wrong key,
 * nonce, tag, associated data or ciphertext), so callers decide what to report.
 */
export function aesGcmOpen(
  key: Uint8Array,
  iv: Uint8Array,
  ciphertext: Uint8Array,
  tag: Uint8Array,
  aad: Uint8Array,
): Buffer | null {
  checkIv(iv);
  if (tag.byteLength !== GCM_TAG_BYTES) return null;
  const decipher = createDecipheriv(gcmCipherName(key), key, iv, { authTagLength: GCM_TAG_BYTES });
  decipher.setAuthTag(tag);
  if (aad.byteLength > 0) decipher.setAAD(aad);
  const body = decipher.update(ciphertext);
  try {
    const tail = decipher.final();
    return tail.byteLength === 0 ? body : Buffer.concat([body, tail]);
  } catch {
    body.fill(0);
    return null;
  }
}
