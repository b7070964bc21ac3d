// What Sign and Verify share: the access check and the signing key, the scheme a key
// may use (its default when the caller names none), and the input checks (message or
// 32-byte SHA-256 digest, within limits).
import type { SignatureScheme, SignInput } from '../core/key-backend.js';
import type { RegisteredKey } from '../keys/key-registry.js';
import { authorizeKey } from './authorize-key.js';
import type { CallContext } from './call-context.js';
import { SCHEMES_BY_ALGORITHM, type KeyAlgorithm } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';
import { checkSize, requireKeyId } from './request-checks.js';
import type { RequestLimits, ServiceDeps } from './service-deps.js';

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

export interface SigningRequest extends MessageOrDigest {
  readonly keyId: string;
  readonly scheme?: SignatureScheme;
}

/**
 * The first steps of Sign and Verify, in their order: the key id, the caller's grant
 * (before the key is looked up), the key (a signing key), the scheme, the input.
 */
export function signingKeyFor(
  deps: ServiceDeps,
  request: SigningRequest,
  ctx: CallContext,
  operation: 'sign' | 'verify',
): { key: RegisteredKey; scheme: SignatureScheme; signInput: SignInput } {
  requireKeyId(request.keyId);
  authorizeKey(ctx, operation, request.keyId);
  const key = deps.registry.forPurpose(request.keyId, 'sign', operation);
  const scheme = resolveScheme(request.keyId, key.spec.algorithm, request.scheme);
  return { key, scheme, signInput: toSignInput(request, scheme, deps.limits) };
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
