// Use case: GenerateDataKey — a fresh AES-256 key for the caller's own bulk encryption,
// returned in plaintext and sealed under the key (the sealed form opens with Decrypt).
import { SecretBytes } from '../core/secret-bytes.js';
import type { CallContext } from './call-context.js';
import { encrypt } from './encrypt.js';
import type { ServiceDeps } from './service-deps.js';

export const DATA_KEY_BYTES = 32;

export interface GenerateDataKeyInput {
  readonly keyId: string;
  readonly associatedData: Uint8Array;
}

export interface GenerateDataKeyOutput {
  /** Owned by the caller, who disposes it once it is sent. */
  readonly plaintextKey: SecretBytes;
  readonly wrappedKey: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly cacheHit: boolean;
}

export async function generateDataKey(
  deps: ServiceDeps,
  input: GenerateDataKeyInput,
  ctx: CallContext,
): Promise<GenerateDataKeyOutput> {
  const plaintextKey = SecretBytes.random(DATA_KEY_BYTES);
  try {
    const sealed = await encrypt(deps, { ...input, plaintext: plaintextKey.expose() }, ctx, 'datakey');
    return {
      plaintextKey,
      wrappedKey: sealed.ciphertext,
      keyId: sealed.keyId,
      keyVersion: sealed.keyVersion,
      cacheHit: sealed.cacheHit,
    };
  } catch (err) {
    plaintextKey.dispose();
    throw err;
  }
}
