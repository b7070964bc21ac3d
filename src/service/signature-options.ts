// What Sign and Verify share: the scheme a key may use (its default when the caller
// names none), the input checks (message or 32-byte SHA-256 digest, within limits),
// and the version a Verify names.
import type { SignatureScheme, SignInput } from '../core/key-backend.js';
import { SCHEMES_BY_ALGORITHM, type KeyAlgorithm } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';
import { checkSize } from './request-checks.js';
import type { RequestLimits } from './service-deps.js';

export const SHA256_BYTES = 32;

const DEFAULT_SCHEME: Partial<Record<KeyAlgorithm, SignatureScheme>> = {
  ed25519: 'ed25519',
  'ecdsa-p256': 'ecdsa-p256-sha256',
  'rsa-4096': 'rsa-pkcs1-sha256',
};

/** The scheme to use: the caller's, which the key must support, or the key's default. */
export function resolveScheme(keyId: string, algorithm: KeyAlgorithm, requested: SignatureScheme | undefined): SignatureScheme {
  const scheme = requested ?? DEFAULT_SCHEME[algorithm];
  if (scheme === undefined || !SCHEMES_BY_ALGORITHM[algorithm]?.includes(scheme)) {
    const allowed = SCHEMES_BY_ALGORITHM[algorithm]?.join(', ') ?? 'none';
    throw KeywardError.invalidArgument(`algorithm ${requested} is not supported by key "${keyId}" (${algorithm}: ${allowed})`);
  }
  return scheme;
}

export interface MessageOrDigest {
  readonly message?: Uint8Array;
  readonly digest?: Uint8Array;
}

/** The backend's input for `scheme`, after checking sizes and what the scheme allows. */
export function toSignInput(input: MessageOrDigest, scheme: SignatureScheme, limits: RequestLimits): SignInput {
  if (input.digest !== undefined) {
    if (scheme === 'ed25519') throw KeywardError.invalidArgument('Ed25519 signs messages, not digests: send message');
    if (input.digest.byteLength !== SHA256_BYTES) {
      throw KeywardError.invalidArgument(`digest must be a ${SHA256_BYTES}-byte SHA-256 digest, got ${input.digest.byteLength} bytes`);
    }
    return { digest: input.digest };
  }
  if (input.message === undefined) throw KeywardError.invalidArgument('message or digest is required');
  checkSize('message', input.message, limits.maxPlaintextBytes, 'limits.max_plaintext_bytes');
  return { message: input.message };
}
