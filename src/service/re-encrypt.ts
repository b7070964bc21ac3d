// Use case: ReEncrypt — move a ciphertext to the primary version of a key without the
// plaintext ever leaving the daemon. The intermediate plaintext is zeroized.
import { authorizeKey } from './authorize-key.js';
import type { CallContext } from './call-context.js';
import { decrypt } from './decrypt.js';
import { encrypt, type EncryptOutput } from './encrypt.js';
import type { ServiceDeps } from './service-deps.js';
import { requireKeyId } from './request-checks.js';

export interface ReEncryptInput {
  readonly ciphertext: Uint8Array;
  readonly associatedData: Uint8Array;
  /** Empty: the ciphertext's own key. */
  readonly destinationKeyId: string;
}

export async function reEncrypt(deps: ServiceDeps, input: ReEncryptInput, ctx: CallContext): Promise<EncryptOutput> {
  // The caller needs `reencrypt` on both keys; the destination is checked first so a
  // refused call never opens the ciphertext.
  if (input.destinationKeyId !== '') {
    // Checked before anything keeps it (decision cache, denial reason, audit record).
    requireKeyId(input.destinationKeyId, 'destination_key_id');
    authorizeKey(ctx, 'reencrypt', input.destinationKeyId);
    deps.registry.forPurpose(input.destinationKeyId, 'encrypt', 'encrypt');
  }
  const opened = await decrypt(deps, input, ctx, 'reencrypt');
  try {
    return await encrypt(
      deps,
      {
        keyId: input.destinationKeyId === '' ? opened.keyId : input.destinationKeyId,
        plaintext: opened.plaintext,
        associatedData: input.associatedData,
      },
      ctx,
      'reencrypt',
    );
  } finally {
    opened.plaintext.fill(0);
  }
}
