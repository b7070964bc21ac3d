// The one error type of keyward. Every layer throws it with a code from a closed set;
// the api layer maps the code to a gRPC status in one place (api/grpc-status.ts). The
// `cause` is for the log only and never reaches a caller.

export type KeywardErrorCode =
  | 'invalid-argument'
  | 'decryption-failed'
  | 'not-found'
  | 'failed-precondition'
  | 'permission-denied'
  | 'unauthenticated'
  | 'resource-exhausted'
  | 'unavailable'
  | 'deadline-exceeded'
  | 'unimplemented'
  | 'already-exists'
  | 'internal';

/**
 * The fixed message of every authentication failure on decryption. Whatever went wrong
 * (tampered bytes, wrong associated data, another key's ciphertext, a wrong wrapped
 * DEK), the caller sees this and nothing else, so the error leaks nothing.
 */
export const DECRYPTION_FAILED_MESSAGE = 'decryption failed';

export class KeywardError extends Error {
  override readonly name = 'KeywardError';
  readonly code: KeywardErrorCode;

  constructor(code: KeywardErrorCode, message: string, options?: { cause?: unknown }) {
    super(code === 'decryption-failed' ? DECRYPTION_FAILED_MESSAGE : message, options);
    this.code = code;
  }

  /** An authentication failure on decryption; `detail` is logged, never sent. */
  static decryptionFailed(cause?: unknown): KeywardError {
    return new KeywardError('decryption-failed', DECRYPTION_FAILED_MESSAGE, { cause });
  }

  static invalidArgument(message: string, cause?: unknown): KeywardError {
    return new KeywardError('invalid-argument', message, { cause });
  }
}

/** True when `err` is a KeywardError, optionally of the given code. */
export function isKeywardError(err: unknown, code?: KeywardErrorCode): err is KeywardError {
  return err instanceof KeywardError && (code === undefined || err.code === code);
}

/** Wraps anything thrown by a dependency as an internal error, keeping KeywardErrors. */
export function toKeywardError(err: unknown): KeywardError {
  if (err instanceof KeywardError) return err;
  return new KeywardError('internal', 'internal error', { cause: err });
}
