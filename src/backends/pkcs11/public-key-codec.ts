// Public keys out of the token: a node:crypto KeyObject built from the public key
// object's attributes (CKA_EC_POINT, or CKA_MODULUS and CKA_PUBLIC_EXPONENT) through a
// JWK, so node:crypto validates the point or modulus; and the SPKI PEM and JWK forms
// callers publish. No ASN.1 is written here: node:crypto encodes SPKI.
import { ECDH, createPublicKey, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { KeyAlgorithm } from '../../core/key-types.js';
import { KeywardError } from '../../core/keyward-error.js';

/** A public JWK as node:crypto imports and exports it. */
export interface JsonWebKey {
  kty?: string;
  crv?: string;
  x?: string;
  y?: string;
  n?: string;
  e?: string;
  d?: string;
  [member: string]: unknown;
}

const P256_POINT_BYTES = 65;
const ED25519_KEY_BYTES = 32;

/** CKA_EC_POINT is a DER OCTET STRING around the point (PKCS#11 §2.3.3); some tokens send it bare. */
function unwrapOctetString(value: Buffer, expected: (inner: Buffer) => boolean): Buffer {
  if (value.length >= 2 && value[0] === 0x04 && value[1]! < 0x80 && value.length === 2 + value[1]!) {
    const inner = value.subarray(2);
    if (expected(inner)) return inner;
  }
  if (value.length >= 3 && value[0] === 0x04 && value[1] === 0x81 && value.length === 3 + value[2]!) {
    const inner = value.subarray(3);
    if (expected(inner)) return inner;
  }
  return value;
}

const b64url = (bytes: Buffer) => bytes.toString('base64url');

function stripLeadingZeros(bytes: Buffer): Buffer {
  let i = 0;
  while (i < bytes.length - 1 && bytes[i] === 0) i++;
  return bytes.subarray(i);
}

/** The JWK of a public key object's attributes; throws `internal` on malformed values. */
export function jwkFromAttributes(
  algorithm: KeyAlgorithm,
  attributes: { ecPoint?: Buffer; modulus?: Buffer; publicExponent?: Buffer },
): JsonWebKey {
  switch (algorithm) {
    case 'ed25519': {
      const point = unwrapOctetString(attributes.ecPoint ?? Buffer.alloc(0), (b) => b.length === ED25519_KEY_BYTES);
      if (point.length !== ED25519_KEY_BYTES) throw new KeywardError('internal', 'the token returned a malformed Ed25519 public key');
      return { kty: 'OKP', crv: 'Ed25519', x: b64url(point) };
    }
    case 'ecdsa-p256': {
      let point = unwrapOctetString(attributes.ecPoint ?? Buffer.alloc(0), (b) => b.length === P256_POINT_BYTES || b.length === 33);
      if (point.length === 33 && (point[0] === 0x02 || point[0] === 0x03)) {
        point = ECDH.convertKey(point, 'prime256v1', undefined, undefined, 'uncompressed') as Buffer;
      }
      if (point.length !== P256_POINT_BYTES || point[0] !== 0x04) {
        throw new KeywardError('internal', 'the token returned a malformed P-256 public key');
      }
      return { kty: 'EC', crv: 'P-256', x: b64url(point.subarray(1, 33)), y: b64url(point.subarray(33)) };
    }
    case 'rsa-4096': {
      if (attributes.modulus === undefined || attributes.publicExponent === undefined) {
        throw new KeywardError('internal', 'the token returned no RSA modulus or exponent');
      }
      return { kty: 'RSA', n: b64url(stripLeadingZeros(attributes.modulus)), e: b64url(stripLeadingZeros(attributes.publicExponent)) };
    }
    default:
      throw new KeywardError('failed-precondition', `${algorithm} keys have no public key`);
  }
}

/** Reads a public key object and returns it as a KeyObject. */
export function readPublicKey(api: pkcs11js.PKCS11, session: pkcs11js.Handle, handle: pkcs11js.Handle, algorithm: KeyAlgorithm): KeyObject {
  const types = algorithm === 'rsa-4096' ? [pkcs11js.CKA_MODULUS, pkcs11js.CKA_PUBLIC_EXPONENT] : [pkcs11js.CKA_EC_POINT];
  const values = new Map(api.C_GetAttributeValue(session, handle, types.map((type) => ({ type }))).map((a) => [a.type, a.value]));
  const jwk = jwkFromAttributes(algorithm, {
    ecPoint: values.get(pkcs11js.CKA_EC_POINT),
    modulus: values.get(pkcs11js.CKA_MODULUS),
    publicExponent: values.get(pkcs11js.CKA_PUBLIC_EXPONENT),
  });
  try {
    return createPublicKey({ key: jwk, format: 'jwk' });
  } catch (err) {
    throw new KeywardError('internal', `the token returned a public key node:crypto refuses (${algorithm})`, { cause: err });
  }
}

/** The forms a public key is published in: SPKI PEM and JWK. */
export function exportPublicKey(key: KeyObject): { readonly spkiPem: string; readonly jwk: JsonWebKey } {
  if (key.type !== 'public') throw new KeywardError('invalid-argument', 'only public keys are exported');
  return { spkiPem: key.export({ type: 'spki', format: 'pem' }) as string, jwk: key.export({ format: 'jwk' }) as JsonWebKey };
}
