// The bytes a pkcs11 KEK wraps a DEK into, which the envelope carries (so any later
// process can unwrap it): format (1) || IV (12) || AES-256-GCM ciphertext of the DEK (32)
// || tag (16) = 61 bytes. The IV comes from the token's RNG; the associated data binds
// the format, key id and key version, so a wrapped DEK moved to another key or version
// fails authentication. The GCM itself runs inside the token (CKM_AES_GCM).
import pkcs11js from 'pkcs11js';

export const WRAP_FORMAT_GCM = 0x01;
export const DEK_BYTES = 32;
export const GCM_IV_BYTES = 12;
export const GCM_TAG_BYTES = 16;
export const WRAPPED_DEK_BYTES = 1 + GCM_IV_BYTES + DEK_BYTES + GCM_TAG_BYTES;

const AAD_LABEL = 'keyward-pkcs11-dek';

/** The associated data: format byte, label, key id and version, NUL-separated. */
export function wrappedDekAad(keyId: string, version: number): Buffer {
  return Buffer.concat([Buffer.from([WRAP_FORMAT_GCM]), Buffer.from(`${AAD_LABEL}\0${keyId}\0${version}`, 'utf8')]);
}

/** CKM_AES_GCM with a 96-bit IV and a 128-bit tag. */
export function gcmMechanism(iv: Buffer, aad: Buffer): pkcs11js.Mechanism {
  return {
    mechanism: pkcs11js.CKM_AES_GCM,
    parameter: { type: pkcs11js.CK_PARAMS_AES_GCM, iv, aad, ivBits: GCM_IV_BYTES * 8, tagBits: GCM_TAG_BYTES * 8 } as pkcs11js.AesGCM,
  };
}

/** Splits a wrapped DEK into copies of its IV and sealed part; undefined when malformed. */
export function parseWrappedDek(wrapped: Uint8Array): { iv: Buffer; sealed: Buffer } | undefined {
  if (wrapped.byteLength !== WRAPPED_DEK_BYTES || wrapped[0] !== WRAP_FORMAT_GCM) return undefined;
  // Copies: the token reads them on another thread; the caller's buffer may change.
  return { iv: Buffer.from(wrapped.subarray(1, 1 + GCM_IV_BYTES)), sealed: Buffer.from(wrapped.subarray(1 + GCM_IV_BYTES)) };
}
