// What a PKCS#11 return value means to keyward. The token reports everything as a CKR_*
// code, and the same code can mean "your data is bad" or "the device is gone" (SoftHSM
// reports a failed GCM tag as CKR_GENERAL_ERROR, and a vanished token directory as
// CKR_GENERAL_ERROR or CKR_OBJECT_HANDLE_INVALID). This file sorts codes into kinds;
// the backend settles the ambiguous ones by asking the token whether it is still there.
import pkcs11js from 'pkcs11js';
import { CKR_AEAD_DECRYPT_FAILED } from './pkcs11-constants.js';

/**
 * - `token`: the session, login, token or device is gone: the call is `unavailable`
 *   and the sessions are reopened.
 * - `ambiguous`: a data error or a token failure; the backend probes the token.
 * - `bad-data`: the input did not decrypt or was malformed (only meaningful for a
 *   decryption; anything else makes it `internal`).
 * - `not-permitted`: the key object does not allow the operation (a key someone made
 *   with other attributes): `failed-precondition`.
 * - `pin`: login refused for the PIN.
 * - `other`: anything else: `internal`.
 */
export type Pkcs11ErrorKind = 'token' | 'ambiguous' | 'bad-data' | 'not-permitted' | 'pin' | 'other';

const p = pkcs11js;
const KINDS = new Map<number, Pkcs11ErrorKind>([
  [p.CKR_SESSION_HANDLE_INVALID, 'token'],
  [p.CKR_SESSION_CLOSED, 'token'],
  [p.CKR_SESSION_COUNT, 'token'],
  [p.CKR_DEVICE_ERROR, 'token'],
  [p.CKR_DEVICE_MEMORY, 'token'],
  [p.CKR_DEVICE_REMOVED, 'token'],
  [p.CKR_TOKEN_NOT_PRESENT, 'token'],
  [p.CKR_TOKEN_NOT_RECOGNIZED, 'token'],
  [p.CKR_USER_NOT_LOGGED_IN, 'token'],
  [p.CKR_CRYPTOKI_NOT_INITIALIZED, 'token'],
  [p.CKR_SLOT_ID_INVALID, 'token'],
  [p.CKR_HOST_MEMORY, 'token'],
  [p.CKR_GENERAL_ERROR, 'ambiguous'],
  [p.CKR_FUNCTION_FAILED, 'ambiguous'],
  [p.CKR_OBJECT_HANDLE_INVALID, 'ambiguous'],
  [p.CKR_KEY_HANDLE_INVALID, 'ambiguous'],
  [p.CKR_ENCRYPTED_DATA_INVALID, 'bad-data'],
  [p.CKR_ENCRYPTED_DATA_LEN_RANGE, 'bad-data'],
  [p.CKR_DATA_INVALID, 'bad-data'],
  [p.CKR_DATA_LEN_RANGE, 'bad-data'],
  [CKR_AEAD_DECRYPT_FAILED, 'bad-data'],
  [p.CKR_KEY_FUNCTION_NOT_PERMITTED, 'not-permitted'],
  [p.CKR_KEY_TYPE_INCONSISTENT, 'not-permitted'],
  [p.CKR_MECHANISM_INVALID, 'not-permitted'],
  [p.CKR_PIN_INCORRECT, 'pin'],
  [p.CKR_PIN_INVALID, 'pin'],
  [p.CKR_PIN_LEN_RANGE, 'pin'],
  [p.CKR_PIN_EXPIRED, 'pin'],
  [p.CKR_PIN_LOCKED, 'pin'],
]);

/** The CKR_* code of a pkcs11js error, or undefined for anything else. */
export function ckrCode(err: unknown): number | undefined {
  if (!(err instanceof Error) || err.name !== 'Pkcs11Error') return undefined;
  const code = (err as { code?: unknown }).code;
  return typeof code === 'number' ? code : undefined;
}

/** "CKR_PIN_INCORRECT" (the hex value when pkcs11js does not know the name); the message of any other error. */
export function ckrName(err: unknown): string {
  const code = ckrCode(err);
  if (code === undefined) return err instanceof Error ? err.message : String(err);
  const message = (err as Error).message;
  return /^CKR_[A-Z0-9_]+$/.test(message) ? message : `CKR 0x${code.toString(16).padStart(8, '0')}`;
}

export function pkcs11ErrorKind(err: unknown): Pkcs11ErrorKind {
  const code = ckrCode(err);
  return code === undefined ? 'other' : (KINDS.get(code) ?? 'other');
}
