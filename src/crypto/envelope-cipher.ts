// Seals and opens envelope v1 messages under a DEK. Each message gets its own key:
// HKDF-SHA-256(DEK, random 256-bit salt) yields a 256-bit message key and a 256-bit
// key commitment, so one cached DEK can seal far more than 2^32 messages, and a
// ciphertext opens under exactly one DEK (key-committing). The header is bound as AAD
// together with the caller's associated data.
import { hkdfSync, timingSafeEqual } from 'node:crypto';
import { KeywardError } from '../core/keyward-error.js';
import { aesGcmOpen, aesGcmSeal, GCM_TAG_BYTES } from './aes-gcm.js';
import { RandomPool } from '../core/random-pool.js';
import {
  COMMITMENT_BYTES,
  headerLength,
  NONCE_BYTES,
  SALT_BYTES,
  writeHeader,
  type Envelope,
} from './envelope-format.js';

const HKDF_INFO = Buffer.from('keyward/v1 message key and commitment', 'latin1');
const DERIVED_BYTES = 32 + COMMITMENT_BYTES;
const randomPool = new RandomPool();

export interface SealInput {
  readonly dek: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly wrappedDek: Uint8Array;
  readonly plaintext: Uint8Array;
  readonly associatedData: Uint8Array;
}

export const DEK_BYTES = 32;

/** Derives the message key (first 32 bytes) and commitment (last 32) into one buffer. */
function deriveMessageKeys(dek: Buffer, salt: Uint8Array): Buffer {
  if (dek.byteLength !== DEK_BYTES) throw new RangeError(`a DEK must be ${DEK_BYTES} bytes`);
  return Buffer.from(hkdfSync('sha256', dek, salt, HKDF_INFO, DERIVED_BYTES));
}

/**
 * Runs `use` with the AAD of the GCM layer: the authenticated header followed by the
 * caller's data. The joined copy is ours (outside Buffer's pool) and wiped afterwards:
 * associated data is the caller's, often personal data.
 */
function withGcmAad<T>(header: Uint8Array, associatedData: Uint8Array, use: (aad: Uint8Array) => T): T {
  if (associatedData.byteLength === 0) return use(header);
  const aad = Buffer.allocUnsafeSlow(header.byteLength + associatedData.byteLength);
  aad.set(header, 0);
  aad.set(associatedData, header.byteLength);
  try {
    return use(aad);
  } finally {
    aad.fill(0);
  }
}

/** Seals a message; returns the complete ciphertext. */
export function sealEnvelope(input: SealInput): Buffer {
  const random = Buffer.allocUnsafe(SALT_BYTES + NONCE_BYTES);
  randomPool.fill(random, 0, random.byteLength);
  const salt = random.subarray(0, SALT_BYTES);
  const nonce = random.subarray(SALT_BYTES);
  const derived = deriveMessageKeys(input.dek, salt);
  try {
    const hLen = headerLength(Buffer.byteLength(input.keyId, 'utf8'), input.wrappedDek.byteLength);
    const out = Buffer.allocUnsafe(hLen + input.plaintext.byteLength + GCM_TAG_BYTES);
    writeHeader(out, {
      keyId: input.keyId,
      keyVersion: input.keyVersion,
      wrappedDek: input.wrappedDek,
      salt,
      nonce,
      commitment: derived.subarray(32),
    });
    const { ciphertext, tag } = withGcmAad(out.subarray(0, hLen), input.associatedData, (aad) =>
      aesGcmSeal(derived.subarray(0, 32), nonce, input.plaintext, aad),
    );
    ciphertext.copy(out, hLen);
    tag.copy(out, hLen + ciphertext.byteLength);
    return out;
  } finally {
    derived.fill(0);
  }
}

/**
 * Opens a parsed envelope with its DEK. Any authentication failure (commitment or
 * tag) throws `decryption-failed` with the one fixed message.
 */
export function openEnvelope(envelope: Envelope, dek: Buffer, associatedData: Uint8Array): Buffer {
  const derived = deriveMessageKeys(dek, envelope.salt);
  try {
    if (!timingSafeEqual(derived.subarray(32), envelope.commitment)) {
      throw KeywardError.decryptionFailed(new Error('key commitment mismatch'));
    }
    const plaintext = withGcmAad(envelope.header, associatedData, (aad) =>
      aesGcmOpen(derived.subarray(0, 32), envelope.nonce, envelope.ciphertext, envelope.tag, aad),
    );
    if (plaintext === null) throw KeywardError.decryptionFailed(new Error('GCM tag mismatch'));
    return plaintext;
  } finally {
    derived.fill(0);
  }
}
