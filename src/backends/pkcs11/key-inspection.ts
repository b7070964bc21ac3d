// Reads a key object keyward found on the token and says what it is: which algorithm (so
// an existing key declared with another purpose or algorithm is refused), and whether it
// meets the policy (§3.4: sensitive, never extractable) and allows the operation keyward
// will ask of it. Keys made by keyward always pass; keys someone made by hand may not.
import { endianness } from 'node:os';
import pkcs11js from 'pkcs11js';
import type { KeyAlgorithm } from '../../core/key-types.js';
import { CKK_EC_EDWARDS, CKK_SHA256_HMAC, EC_PARAMS_ED25519, EC_PARAMS_ED25519_NAME, EC_PARAMS_P256 } from './pkcs11-constants.js';
import { RSA_MODULUS_BITS, SECRET_KEY_BYTES } from './key-templates.js';

const p = pkcs11js;
const LITTLE_ENDIAN = endianness() === 'LE';

export interface InspectedKey {
  /** The algorithm keyward would use the object as, or undefined when it fits none. */
  readonly algorithm: KeyAlgorithm | undefined;
  /** What the object is, for messages ("AES-128 secret key"). */
  readonly description: string;
  /** Why keyward must not use it (empty when it may). */
  readonly problems: readonly string[];
  /** Uses the object allows beyond its one (keyward never asks for them; worth a warning). */
  readonly extraUses: readonly string[];
  /** RSA: the signature length in bytes. */
  readonly modulusBytes?: number;
}

/** A CK_ULONG attribute value (native width and byte order). */
export function decodeUlong(value: Buffer | undefined): number {
  if (value === undefined || value.length === 0) return -1;
  if (value.length >= 8) return Number(LITTLE_ENDIAN ? value.readBigUInt64LE(0) : value.readBigUInt64BE(0));
  return LITTLE_ENDIAN ? value.readUInt32LE(0) : value.readUInt32BE(0);
}

function decodeBool(value: Buffer | undefined): boolean {
  return value !== undefined && value.length > 0 && value[0] !== 0;
}

function read(api: pkcs11js.PKCS11, session: pkcs11js.Handle, handle: pkcs11js.Handle, types: number[]): Map<number, Buffer | undefined> {
  const result = api.C_GetAttributeValue(session, handle, types.map((type) => ({ type })));
  return new Map(result.map((a) => [a.type, a.value]));
}

/** The policy checks every key object must pass, and the one use it must allow. */
function extraUsesOf(attrs: Map<number, Buffer | undefined>, uses: Array<[number, string]>): string[] {
  return uses.filter(([type]) => decodeBool(attrs.get(type))).map(([, name]) => name);
}

function problemsOf(attrs: Map<number, Buffer | undefined>, usage: Array<[number, string]>): string[] {
  const problems: string[] = [];
  if (!decodeBool(attrs.get(p.CKA_SENSITIVE))) problems.push('CKA_SENSITIVE is false');
  if (decodeBool(attrs.get(p.CKA_EXTRACTABLE))) problems.push('CKA_EXTRACTABLE is true');
  for (const [type, name] of usage) if (!decodeBool(attrs.get(type))) problems.push(`${name} is false`);
  return problems;
}

/** Inspects a secret key object (a KEK or a MAC key). */
export function inspectSecretKey(api: pkcs11js.PKCS11, session: pkcs11js.Handle, handle: pkcs11js.Handle): InspectedKey {
  const attrs = read(api, session, handle, [
    p.CKA_KEY_TYPE,
    p.CKA_VALUE_LEN,
    p.CKA_SENSITIVE,
    p.CKA_EXTRACTABLE,
    p.CKA_ENCRYPT,
    p.CKA_DECRYPT,
    p.CKA_SIGN,
    p.CKA_WRAP,
    p.CKA_UNWRAP,
    p.CKA_DERIVE,
  ]);
  const keyType = decodeUlong(attrs.get(p.CKA_KEY_TYPE));
  const length = decodeUlong(attrs.get(p.CKA_VALUE_LEN));
  const wrapDerive: Array<[number, string]> = [
    [p.CKA_WRAP, 'wrap'],
    [p.CKA_UNWRAP, 'unwrap'],
    [p.CKA_DERIVE, 'derive'],
  ];
  if (keyType === p.CKK_AES) {
    const description = `AES-${length * 8} secret key`;
    if (length !== SECRET_KEY_BYTES) return { algorithm: undefined, description, problems: [], extraUses: [] };
    return {
      algorithm: 'aes-256-gcm',
      description,
      problems: problemsOf(attrs, [
        [p.CKA_ENCRYPT, 'CKA_ENCRYPT'],
        [p.CKA_DECRYPT, 'CKA_DECRYPT'],
      ]),
      extraUses: extraUsesOf(attrs, [[p.CKA_SIGN, 'sign'], ...wrapDerive]),
    };
  }
  if (keyType === p.CKK_GENERIC_SECRET || keyType === CKK_SHA256_HMAC) {
    const description = `${length}-byte generic secret key`;
    if (length < SECRET_KEY_BYTES) return { algorithm: undefined, description, problems: [], extraUses: [] };
    return {
      algorithm: 'hmac-sha256',
      description,
      problems: problemsOf(attrs, [[p.CKA_SIGN, 'CKA_SIGN']]),
      extraUses: extraUsesOf(attrs, [[p.CKA_ENCRYPT, 'encrypt'], [p.CKA_DECRYPT, 'decrypt'], ...wrapDerive]),
    };
  }
  return { algorithm: undefined, description: `secret key of key type 0x${keyType.toString(16)}`, problems: [], extraUses: [] };
}

/** Inspects a private key object (a signing key). */
export function inspectPrivateKey(api: pkcs11js.PKCS11, session: pkcs11js.Handle, handle: pkcs11js.Handle): InspectedKey {
  const attrs = read(api, session, handle, [
    p.CKA_KEY_TYPE,
    p.CKA_SENSITIVE,
    p.CKA_EXTRACTABLE,
    p.CKA_SIGN,
    p.CKA_DECRYPT,
    p.CKA_UNWRAP,
    p.CKA_DERIVE,
  ]);
  const keyType = decodeUlong(attrs.get(p.CKA_KEY_TYPE));
  const base = {
    problems: problemsOf(attrs, [[p.CKA_SIGN, 'CKA_SIGN']]),
    extraUses: extraUsesOf(attrs, [
      [p.CKA_DECRYPT, 'decrypt'],
      [p.CKA_UNWRAP, 'unwrap'],
      [p.CKA_DERIVE, 'derive'],
    ]),
  };
  if (keyType === p.CKK_EC || keyType === CKK_EC_EDWARDS) {
    const params = read(api, session, handle, [p.CKA_EC_PARAMS]).get(p.CKA_EC_PARAMS) ?? Buffer.alloc(0);
    if (keyType === p.CKK_EC && params.equals(EC_PARAMS_P256)) return { algorithm: 'ecdsa-p256', description: 'EC P-256 private key', ...base };
    if (keyType === CKK_EC_EDWARDS && (params.equals(EC_PARAMS_ED25519) || params.equals(EC_PARAMS_ED25519_NAME))) {
      return { algorithm: 'ed25519', description: 'Ed25519 private key', ...base };
    }
    return { algorithm: undefined, description: `EC private key with parameters ${params.toString('hex')}`, ...base };
  }
  if (keyType === p.CKK_RSA) {
    const modulus = read(api, session, handle, [p.CKA_MODULUS]).get(p.CKA_MODULUS) ?? Buffer.alloc(0);
    let bytes = modulus.length;
    for (let i = 0; i < modulus.length && modulus[i] === 0; i++) bytes--;
    const description = `RSA-${bytes * 8} private key`;
    if (bytes * 8 !== RSA_MODULUS_BITS) return { algorithm: undefined, description, ...base };
    return { algorithm: 'rsa-4096', description, ...base, modulusBytes: bytes };
  }
  return { algorithm: undefined, description: `private key of key type 0x${keyType.toString(16)}`, ...base };
}
