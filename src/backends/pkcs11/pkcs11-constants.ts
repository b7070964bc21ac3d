// PKCS#11 values the pkcs11 backend needs that pkcs11js 2.1.7 does not export (the EdDSA
// ones come from PKCS#11 3.0; SoftHSM 2.6 implements them), and the fixed DER strings it
// sends to the token: curve OIDs and the SHA-256 DigestInfo prefix. One place, so no
// value is typed twice.

/** CKK_EC_EDWARDS (PKCS#11 3.0 §6.3.1). */
export const CKK_EC_EDWARDS = 0x40;
/** CKK_SHA256_HMAC: a key type some tokens use for HMAC-SHA-256 keys. */
export const CKK_SHA256_HMAC = 0x2b;
/** CKM_EC_EDWARDS_KEY_PAIR_GEN (PKCS#11 3.0 §6.3.3). */
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
/** CKM_EDDSA (PKCS#11 3.0 §6.3.14); without parameters it is pure Ed25519. */
export const CKM_EDDSA = 0x1057;
/** CKR_AEAD_DECRYPT_FAILED (PKCS#11 3.0): what a 3.0 token returns for a bad GCM tag. */
export const CKR_AEAD_DECRYPT_FAILED = 0x35;

/** CKA_EC_PARAMS of P-256: the DER of OID 1.2.840.10045.3.1.7 (prime256v1). */
export const EC_PARAMS_P256 = Buffer.from('06082a8648ce3d030107', 'hex');
/** CKA_EC_PARAMS of Ed25519: the DER of OID 1.3.101.112 (id-Ed25519, RFC 8410). */
export const EC_PARAMS_ED25519 = Buffer.from('06032b6570', 'hex');
/** CKA_EC_PARAMS of Ed25519 as some tokens write it: PrintableString "edwards25519". */
export const EC_PARAMS_ED25519_NAME = Buffer.concat([Buffer.from([0x13, 12]), Buffer.from('edwards25519', 'ascii')]);

/**
 * The DER prefix of a SHA-256 DigestInfo (RFC 8017 §9.2, note 1): CKM_RSA_PKCS over
 * prefix || digest is an RSASSA-PKCS1-v1_5 signature of a precomputed SHA-256 digest.
 */
export const SHA256_DIGEST_INFO_PREFIX = Buffer.from('3031300d060960864801650304020105000420', 'hex');

/** A SHA-256 digest's length. */
export const SHA256_BYTES = 32;
