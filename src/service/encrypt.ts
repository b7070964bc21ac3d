// Use case: Encrypt — seal plaintext under the primary version of an encryption key.
import type { DataOperation } from '../core/caller.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { checkAssociatedData, checkPlaintext, requireKeyId } from './request-checks.js';
import type { ServiceDeps } from './service-deps.js';

export interface EncryptInput {
  readonly keyId: string;
  readonly plaintext: Uint8Array;
  readonly associatedData: Uint8Array;
}

export interface EncryptOutput {
  readonly ciphertext: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly cacheHit: boolean;
}

/** `operation` is what the caller must be granted: ReEncrypt and GenerateDataKey seal too. */
export async function encrypt(
  deps: ServiceDeps,
  input: EncryptInput,
  ctx: CallContext,
  operation: DataOperation = 'encrypt',
): Promise<EncryptOutput> {
  requireKeyId(input.keyId);
  authorizeKey(ctx, operation, input.keyId);
  checkPlaintext(input.plaintext, deps.limits);
  checkAssociatedData(input.associatedData, deps.limits);
  const key = deps.registry.forPurpose(input.keyId, 'encrypt', 'encrypt');
  const { version } = deps.registry.primaryVersion(key);
  const sealed = await deps.keyring.seal(key, version, input.plaintext, input.associatedData);
  noteKey(ctx, input.keyId, version, key.backend.name, sealed.cacheHit);
  if (sealed.dekGenerated && ctx.facts) ctx.facts.dekGenerated = true;
  return { ciphertext: sealed.ciphertext, keyId: input.keyId, keyVersion: version, cacheHit: sealed.cacheHit };
}
