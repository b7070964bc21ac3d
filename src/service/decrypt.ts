// Use case: Decrypt — open a self-describing ciphertext. The key and version come from
// its header; the version must still be enabled.
import { parseEnvelope } from '../crypto/envelope-format.js';
import type { DataOperation } from '../core/caller.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { checkAssociatedData, checkCiphertext } from './request-checks.js';
import type { ServiceDeps } from './service-deps.js';

export interface DecryptInput {
  readonly ciphertext: Uint8Array;
  readonly associatedData: Uint8Array;
}

export interface DecryptOutput {
  /** Owned by the caller, who zeroizes it once it is sent. */
  readonly plaintext: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly cacheHit: boolean;
}

/** `operation` is what the caller must be granted on the ciphertext's key (ReEncrypt opens too). */
export async function decrypt(
  deps: ServiceDeps,
  input: DecryptInput,
  ctx: CallContext,
  operation: DataOperation = 'decrypt',
): Promise<DecryptOutput> {
  checkCiphertext(input.ciphertext, deps.limits);
  checkAssociatedData(input.associatedData, deps.limits);
  const envelope = parseEnvelope(input.ciphertext);
  authorizeKey(ctx, operation, envelope.keyId);
  deps.registry.forPurpose(envelope.keyId, 'encrypt', 'decrypt');
  const key = await deps.registry.withVersion(envelope.keyId, envelope.keyVersion);
  deps.registry.usableVersion(key, envelope.keyVersion);
  // Noted before opening, so a failed authentication is still reported against its key.
  noteKey(ctx, envelope.keyId, envelope.keyVersion, key.backend.name);
  const opened = await deps.keyring.open(key, envelope, input.associatedData);
  noteKey(ctx, envelope.keyId, envelope.keyVersion, key.backend.name, opened.cacheHit);
  return { plaintext: opened.plaintext, keyId: envelope.keyId, keyVersion: envelope.keyVersion, cacheHit: opened.cacheHit };
}
