// The roles of the Key Management Policy §5, as operation sets, and the escrow officer
// of §7. A rule grants roles and/or single operations on key id patterns; these six names
// are always defined.
import type { Operation } from '../core/caller.js';

export const BUILTIN_ROLES: Readonly<Record<string, readonly Operation[]>> = Object.freeze({
  /** Encrypt only: Encrypt, EncryptBatch, and GenerateDataKey (a DEK to encrypt with locally). */
  'key-user-encrypt': ['encrypt', 'datakey'],
  /** Decrypt only: Decrypt, DecryptBatch. */
  'key-user-decrypt': ['decrypt'],
  /** Signing keys and MAC keys: Sign, SignJwt, ComputeMac, Verify, VerifyMac, GetPublicKey. */
  signer: ['sign', 'mac', 'verify', 'public_key'],
  /** List and describe keys; no cryptographic operation. */
  'key-auditor': ['list', 'describe'],
  /** Lifecycle on the admin socket (list, describe, rotate); no decrypt. */
  'key-admin': ['list', 'describe', 'rotate'],
  /**
   * Key escrow and recovery (policy §7): SplitKeyEscrow, CombineKeyEscrow. Not part of
   * key-admin: whoever rotates keys does not also hold their escrow (policy §6).
   */
  'key-escrow-officer': ['escrow', 'list', 'describe'],
});

/**
 * The operations of role `name` — built-in, else custom — or undefined when there is no
 * such role. Own properties only: a role named "toString" or "constructor" is not
 * found on Object.prototype.
 */
export function roleOperations(name: string, custom: Readonly<Record<string, readonly string[]>>): readonly string[] | undefined {
  if (Object.hasOwn(BUILTIN_ROLES, name)) return BUILTIN_ROLES[name];
  return Object.hasOwn(custom, name) ? custom[name] : undefined;
}
