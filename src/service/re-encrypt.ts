// Use case: ReEncrypt — move a ciphertext to the primary version of a key without the
// plaintext ever leaving the daemon. The intermediate plaintext is zeroized.
import type { CallContext } from './call-context.js';
import { decrypt } from './decrypt.js';
import { encrypt, type EncryptOutput } from './encrypt.js';
import type { ServiceDeps } from './service-deps.js';

export interface ReEncryptInput {
  readonly ciphertext: Uint8Array;
  readonly associatedData: Uint8Array;
  /** Empty: the ciphertext's own key. */
  readonly destinationKeyId: string;
}

export async function reEncrypt(deps: ServiceDeps, input: ReEncryptInput, ctx: CallContext): Promise<EncryptOutput> {
  if (input.destinationKeyId !== '') deps.registry.forPurpose(input.destinationKeyId, 'encrypt', 'encrypt');
  const opened = await decrypt(deps, input, ctx);
  try {
    return await encrypt(
      deps,
      {
        keyId: input.destinationKeyId === '' ? opened.keyId : input.destinationKeyId,
        plaintext: opened.plaintext,
        associatedData: input.associatedData,
      },
      ctx,
    );
  } finally {
    opened.plaintext.fill(0);
  }
}
