// Input checks shared by the use cases. Messages name the request field as the caller
// wrote it (proto field names) and state the limit that was passed.
import { KeywardError } from '../core/keyward-error.js';
import { headerLength, MAX_WRAPPED_DEK_BYTES } from '../crypto/envelope-format.js';
import { GCM_TAG_BYTES } from '../crypto/aes-gcm.js';
import { KEY_ID_MAX_BYTES, KEY_ID_PATTERN } from '../core/key-types.js';
import type { RequestLimits } from './service-deps.js';

/** The largest envelope overhead: longest key id and wrapped DEK, plus the tag. */
export const MAX_ENVELOPE_OVERHEAD = headerLength(KEY_ID_MAX_BYTES, MAX_WRAPPED_DEK_BYTES) + GCM_TAG_BYTES;

/**
 * A key id as keyward names keys (1–128 of A-Z a-z 0-9 . _ -). Checked before anything
 * else sees it — authorization, its decision cache, spans, metrics, the audit log — so
 * no caller can make any of them hold or match a megabyte-long name.
 */
export function requireKeyId(keyId: string, field = 'key_id'): string {
  if (keyId === '') throw KeywardError.invalidArgument(`${field} is required`);
  if (keyId.length > KEY_ID_MAX_BYTES || !KEY_ID_PATTERN.test(keyId)) {
    throw KeywardError.invalidArgument(`${field} is not a key id: expected 1-${KEY_ID_MAX_BYTES} characters of A-Z a-z 0-9 . _ - starting with a letter or digit`);
  }
  return keyId;
}

export function checkSize(field: string, bytes: Uint8Array, max: number, setting: string): void {
  if (bytes.byteLength > max) {
    throw KeywardError.invalidArgument(`${field} is ${bytes.byteLength} bytes; the limit is ${max} bytes (${setting})`);
  }
}

export function checkPlaintext(plaintext: Uint8Array, limits: RequestLimits): void {
  checkSize('plaintext', plaintext, limits.maxPlaintextBytes, 'limits.max_plaintext_bytes');
}

export function checkAssociatedData(associatedData: Uint8Array, limits: RequestLimits): void {
  checkSize('associated_data', associatedData, limits.maxAssociatedDataBytes, 'limits.max_associated_data_bytes');
}

export function checkCiphertext(ciphertext: Uint8Array, limits: RequestLimits): void {
  if (ciphertext.byteLength === 0) throw KeywardError.invalidArgument('ciphertext is required');
  checkSize('ciphertext', ciphertext, limits.maxPlaintextBytes + MAX_ENVELOPE_OVERHEAD, 'limits.max_plaintext_bytes plus envelope overhead');
}
