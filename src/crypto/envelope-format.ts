// The byte layout of a keyward ciphertext, format v1 (docs/ciphertext-format.md): the
// header that names key, version and wrapped DEK, and the parser that refuses
// truncated input and oversized length fields before it slices or allocates anything.
import { KeywardError } from '../core/keyward-error.js';
import { KEY_ID_MAX_BYTES, KEY_ID_PATTERN } from '../core/key-types.js';
import { GCM_TAG_BYTES } from './aes-gcm.js';

/** "KWE": keyward envelope. */
export const ENVELOPE_MAGIC = Buffer.from([0x4b, 0x57, 0x45]);
export const ENVELOPE_VERSION_1 = 0x01;
export const SALT_BYTES = 32;
export const NONCE_BYTES = 12;
export const COMMITMENT_BYTES = 32;
export const MAX_WRAPPED_DEK_BYTES = 1024;
/** magic + version + key-id length + key version + wrapped-DEK length. */
const FIXED_HEADER_BYTES = 3 + 1 + 1 + 4 + 2;
/** The smallest possible envelope: 1-byte key id, 1-byte wrapped DEK, empty plaintext. */
export const MIN_ENVELOPE_BYTES = FIXED_HEADER_BYTES + 1 + 1 + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES + GCM_TAG_BYTES;

/** A parsed envelope. Every byte array is a view into the input; nothing was copied. */
export interface Envelope {
  readonly keyId: string;
  readonly keyVersion: number;
  readonly wrappedDek: Uint8Array;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly commitment: Uint8Array;
  /** Everything from the magic to the end of the commitment: authenticated as AAD. */
  readonly header: Uint8Array;
  readonly ciphertext: Uint8Array;
  readonly tag: Uint8Array;
}

export interface HeaderFields {
  readonly keyId: string;
  readonly keyVersion: number;
  readonly wrappedDek: Uint8Array;
  readonly salt: Uint8Array;
  readonly nonce: Uint8Array;
  readonly commitment: Uint8Array;
}

/** The header's length for a key id and wrapped DEK, before writing it. */
export function headerLength(keyIdBytes: number, wrappedDekBytes: number): number {
  return FIXED_HEADER_BYTES + keyIdBytes + wrappedDekBytes + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES;
}

/**
 * Writes the header into `out` at offset 0 and returns its length. `out` must hold at
 * least headerLength(...) bytes.
 */
export function writeHeader(out: Buffer, fields: HeaderFields): number {
  const keyIdLength = Buffer.byteLength(fields.keyId, 'utf8');
  if (keyIdLength === 0 || keyIdLength > KEY_ID_MAX_BYTES) throw new RangeError('key id length out of range');
  // Never write what parseEnvelope refuses: such a ciphertext could not be decrypted.
  if (!KEY_ID_PATTERN.test(fields.keyId)) throw new RangeError('key id does not match the key id pattern');
  if (!Number.isInteger(fields.keyVersion) || fields.keyVersion < 1 || fields.keyVersion > 0xffffffff) {
    throw new RangeError('key version out of range');
  }
  if (fields.wrappedDek.byteLength === 0 || fields.wrappedDek.byteLength > MAX_WRAPPED_DEK_BYTES) {
    throw new RangeError('wrapped DEK length out of range');
  }
  // A short field would leave bytes of `out` (often pool memory) unwritten in the output.
  if (
    fields.salt.byteLength !== SALT_BYTES ||
    fields.nonce.byteLength !== NONCE_BYTES ||
    fields.commitment.byteLength !== COMMITMENT_BYTES
  ) {
    throw new RangeError('salt, nonce or commitment has the wrong length');
  }
  let off = 0;
  ENVELOPE_MAGIC.copy(out, off);
  off += ENVELOPE_MAGIC.length;
  out[off++] = ENVELOPE_VERSION_1;
  out[off++] = keyIdLength;
  off += out.write(fields.keyId, off, keyIdLength, 'utf8');
  out.writeUInt32BE(fields.keyVersion, off);
  off += 4;
  out.writeUInt16BE(fields.wrappedDek.byteLength, off);
  off += 2;
  out.set(fields.wrappedDek, off);
  off += fields.wrappedDek.byteLength;
  out.set(fields.salt, off);
  off += SALT_BYTES;
  out.set(fields.nonce, off);
  off += NONCE_BYTES;
  out.set(fields.commitment, off);
  off += COMMITMENT_BYTES;
  return off;
}

function malformed(what: string): KeywardError {
  return KeywardError.invalidArgument(`ciphertext is malformed: ${what}`);
}

/**
 * Parses a ciphertext. Throws `invalid-argument` naming what is wrong with the framing
 * (this says nothing about keys or plaintext: the framing is public). Authentication
 * happens later, in envelope-cipher.
 */
export function parseEnvelope(input: Uint8Array): Envelope {
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
  if (buf.byteLength < FIXED_HEADER_BYTES) throw malformed('too short');
  if (buf[0] !== ENVELOPE_MAGIC[0] || buf[1] !== ENVELOPE_MAGIC[1] || buf[2] !== ENVELOPE_MAGIC[2]) {
    throw malformed('not a keyward ciphertext');
  }
  if (buf[3] !== ENVELOPE_VERSION_1) throw malformed(`unknown format version ${buf[3]}`);
  const keyIdLength = buf[4]!;
  if (keyIdLength === 0 || keyIdLength > KEY_ID_MAX_BYTES) throw malformed('key id length out of range');
  let off = 5;
  // Both variable-length fields are checked against what remains before any slicing.
  if (buf.byteLength < off + keyIdLength + 4 + 2) throw malformed('truncated');
  const keyId = buf.toString('latin1', off, off + keyIdLength);
  if (!KEY_ID_PATTERN.test(keyId)) throw malformed('invalid key id');
  off += keyIdLength;
  const keyVersion = buf.readUInt32BE(off);
  if (keyVersion === 0) throw malformed('key version 0');
  off += 4;
  const wrappedLength = buf.readUInt16BE(off);
  off += 2;
  if (wrappedLength === 0 || wrappedLength > MAX_WRAPPED_DEK_BYTES) throw malformed('wrapped key length out of range');
  const headerEnd = off + wrappedLength + SALT_BYTES + NONCE_BYTES + COMMITMENT_BYTES;
  if (buf.byteLength < headerEnd + GCM_TAG_BYTES) throw malformed('truncated');
  const wrappedDek = buf.subarray(off, off + wrappedLength);
  off += wrappedLength;
  const salt = buf.subarray(off, off + SALT_BYTES);
  off += SALT_BYTES;
  const nonce = buf.subarray(off, off + NONCE_BYTES);
  off += NONCE_BYTES;
  const commitment = buf.subarray(off, off + COMMITMENT_BYTES);
  off += COMMITMENT_BYTES;
  const tagStart = buf.byteLength - GCM_TAG_BYTES;
  return {
    keyId,
    keyVersion,
    wrappedDek,
    salt,
    nonce,
    commitment,
    header: buf.subarray(0, headerEnd),
    ciphertext: buf.subarray(headerEnd, tagStart),
    tag: buf.subarray(tagStart),
  };
}
