// The one place where a failed Vault request becomes a KeywardError for keyward's
// callers: Vault unreachable, 5xx after retries, circuit open, overloaded, rate limited
// → unavailable; 403 that a new login did not cure → failed-precondition; a ciphertext
// Vault will not decrypt (400) → decryption-failed; a version below
// min_decryption_version → failed-precondition; a missing key → not-found. Vault's
// error text (already redacted) stays in the message; the cause is for the log.
import { KeywardError, isKeywardError } from '../../core/keyward-error.js';
import { VaultAuthError, authErrorToKeyward } from './vault-auth.js';
import { VaultRequestError } from './vault-request-error.js';

export type VaultOperation = 'read-key' | 'create-key' | 'rotate' | 'datakey' | 'encrypt' | 'decrypt' | 'sign' | 'verify' | 'hmac' | 'poll';

export interface ErrorContext {
  readonly backend: string;
  readonly operation: VaultOperation;
  readonly keyId?: string;
  readonly version?: number;
}

const TOO_OLD = /disallowed by policy|too old/i;
const KEY_NOT_FOUND = /key not found|no existing key|could not be found/i;

export function isTooOld(err: unknown): boolean {
  return err instanceof VaultRequestError && err.kind === 'http' && err.status === 400 && TOO_OLD.test(err.vaultErrors.join(' '));
}

export function toKeywardError(err: unknown, ctx: ErrorContext): KeywardError {
  if (isKeywardError(err)) return err;
  const prefix = `vault backend "${ctx.backend}"`;
  const key = ctx.keyId !== undefined ? ` key "${ctx.keyId}"${ctx.version !== undefined ? ` v${ctx.version}` : ''}` : '';
  if (err instanceof VaultAuthError) return authErrorToKeyward(err, ctx.backend, false);
  if (!(err instanceof VaultRequestError)) return new KeywardError('internal', 'internal error', { cause: err });
  const at = `${prefix}: ${ctx.operation}${key}`;
  switch (err.kind) {
    case 'closed':
      return new KeywardError('unavailable', `${prefix} is closed`, { cause: err });
    case 'circuit-open':
    case 'overloaded':
    case 'network':
    case 'timeout':
    case 'protocol':
      return new KeywardError('unavailable', `${at}: ${err.message}`, { cause: err });
    case 'http':
      break;
  }
  const status = err.status ?? 0;
  const detail = err.detail;
  if (status >= 500 || status === 429 || status === 412) return new KeywardError('unavailable', `${at}: Vault answered ${status}: ${detail}`, { cause: err });
  // keyward's own token lacks a permission: a deployment fault, not the caller's — and
  // not PERMISSION_DENIED, whose one message means "the policy refuses you". The detail
  // is in the cause (logged).
  if (status === 403) return new KeywardError('failed-precondition', `${at}: Vault refused keyward's token (403); check the token's policy`, { cause: err });
  if (status === 404) {
    return ctx.operation === 'read-key'
      ? new KeywardError('not-found', `${at}: no such Transit key`, { cause: err })
      : new KeywardError('failed-precondition', `${at}: Vault has no such path (404: ${detail || 'not found'}); check transit_mount and namespace`, { cause: err });
  }
  if (status === 400) {
    if (TOO_OLD.test(detail)) return new KeywardError('failed-precondition', `${at}: the version is below the key's min_decryption_version in Vault`, { cause: err });
    if (KEY_NOT_FOUND.test(detail)) return new KeywardError('not-found', `${at}: Vault has no such key`, { cause: err });
    if (ctx.operation === 'decrypt') return KeywardError.decryptionFailed(err);
    return new KeywardError('failed-precondition', `${at}: Vault refused the request (400: ${detail})`, { cause: err });
  }
  return new KeywardError('internal', 'internal error', { cause: err });
}
