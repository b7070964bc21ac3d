// The attribute templates keyward generates keys with, one per algorithm. Policy §3.2 and
// §3.4: keys are generated inside the token, kept on it (CKA_TOKEN), never leave it in
// the clear (CKA_SENSITIVE, not CKA_EXTRACTABLE), and may do one thing each — a KEK
// encrypts and decrypts DEKs, a signing key signs, a MAC key MACs; nothing derives,
// wraps or unwraps.
import pkcs11js from 'pkcs11js';
import type { KeyAlgorithm } from '../../core/key-types.js';
import { CKK_EC_EDWARDS, CKM_EC_EDWARDS_KEY_PAIR_GEN, EC_PARAMS_ED25519, EC_PARAMS_P256 } from './pkcs11-constants.js';

const p = pkcs11js;

export type KeyTemplate =
  | { readonly kind: 'secret'; readonly mechanism: pkcs11js.Mechanism; readonly template: pkcs11js.Template }
  | {
      readonly kind: 'pair';
      readonly mechanism: pkcs11js.Mechanism;
      readonly publicTemplate: pkcs11js.Template;
      readonly privateTemplate: pkcs11js.Template;
    };

export const RSA_MODULUS_BITS = 4096;
export const SECRET_KEY_BYTES = 32;

/** CK_DATE: "YYYYMMDD" in UTC. */
function ckDate(date: Date): Buffer {
  return Buffer.from(date.toISOString().slice(0, 10).replace(/-/g, ''), 'ascii');
}

/** The template for a new version labelled `label` (CKA_ID `id`), created at `now`. */
export function keyTemplate(algorithm: KeyAlgorithm, label: string, id: Buffer, now: Date): KeyTemplate {
  const common: pkcs11js.Template = [
    { type: p.CKA_TOKEN, value: true },
    { type: p.CKA_LABEL, value: label },
    { type: p.CKA_ID, value: id },
    { type: p.CKA_START_DATE, value: ckDate(now) },
  ];
  const secret: pkcs11js.Template = [
    ...common,
    { type: p.CKA_CLASS, value: p.CKO_SECRET_KEY },
    { type: p.CKA_VALUE_LEN, value: SECRET_KEY_BYTES },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: true },
    { type: p.CKA_EXTRACTABLE, value: false },
    { type: p.CKA_WRAP, value: false },
    { type: p.CKA_UNWRAP, value: false },
    { type: p.CKA_DERIVE, value: false },
  ];
  const privateKey: pkcs11js.Template = [
    ...common,
    { type: p.CKA_CLASS, value: p.CKO_PRIVATE_KEY },
    { type: p.CKA_PRIVATE, value: true },
    { type: p.CKA_SENSITIVE, value: true },
    { type: p.CKA_EXTRACTABLE, value: false },
    { type: p.CKA_SIGN, value: true },
    { type: p.CKA_DECRYPT, value: false },
    { type: p.CKA_UNWRAP, value: false },
    { type: p.CKA_DERIVE, value: false },
  ];
  const publicKey: pkcs11js.Template = [
    ...common,
    { type: p.CKA_CLASS, value: p.CKO_PUBLIC_KEY },
    { type: p.CKA_PRIVATE, value: false },
    { type: p.CKA_VERIFY, value: true },
    { type: p.CKA_ENCRYPT, value: false },
    { type: p.CKA_WRAP, value: false },
    { type: p.CKA_DERIVE, value: false },
  ];
  switch (algorithm) {
    case 'aes-256-gcm':
      return {
        kind: 'secret',
        mechanism: { mechanism: p.CKM_AES_KEY_GEN },
        template: [
          ...secret,
          { type: p.CKA_KEY_TYPE, value: p.CKK_AES },
          { type: p.CKA_ENCRYPT, value: true },
          { type: p.CKA_DECRYPT, value: true },
          { type: p.CKA_SIGN, value: false },
          { type: p.CKA_VERIFY, value: false },
        ],
      };
    case 'hmac-sha256':
      return {
        kind: 'secret',
        mechanism: { mechanism: p.CKM_GENERIC_SECRET_KEY_GEN },
        template: [
          ...secret,
          { type: p.CKA_KEY_TYPE, value: p.CKK_GENERIC_SECRET },
          { type: p.CKA_SIGN, value: true },
          { type: p.CKA_VERIFY, value: true },
          { type: p.CKA_ENCRYPT, value: false },
          { type: p.CKA_DECRYPT, value: false },
        ],
      };
    case 'ecdsa-p256':
      return {
        kind: 'pair',
        mechanism: { mechanism: p.CKM_EC_KEY_PAIR_GEN },
        publicTemplate: [...publicKey, { type: p.CKA_KEY_TYPE, value: p.CKK_EC }, { type: p.CKA_EC_PARAMS, value: EC_PARAMS_P256 }],
        privateTemplate: [...privateKey, { type: p.CKA_KEY_TYPE, value: p.CKK_EC }],
      };
    case 'ed25519':
      return {
        kind: 'pair',
        mechanism: { mechanism: CKM_EC_EDWARDS_KEY_PAIR_GEN },
        publicTemplate: [...publicKey, { type: p.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }, { type: p.CKA_EC_PARAMS, value: EC_PARAMS_ED25519 }],
        privateTemplate: [...privateKey, { type: p.CKA_KEY_TYPE, value: CKK_EC_EDWARDS }],
      };
    case 'rsa-4096':
      return {
        kind: 'pair',
        mechanism: { mechanism: p.CKM_RSA_PKCS_KEY_PAIR_GEN },
        publicTemplate: [
          ...publicKey,
          { type: p.CKA_KEY_TYPE, value: p.CKK_RSA },
          { type: p.CKA_MODULUS_BITS, value: RSA_MODULUS_BITS },
          { type: p.CKA_PUBLIC_EXPONENT, value: Buffer.from([0x01, 0x00, 0x01]) },
        ],
        privateTemplate: [...privateKey, { type: p.CKA_KEY_TYPE, value: p.CKK_RSA }],
      };
  }
}
