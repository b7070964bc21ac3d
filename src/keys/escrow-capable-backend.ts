// Which backends key escrow reaches (policy §7): only those whose keys may leave them
// implement the escrow methods (the local one). HSM and Vault keys cannot, and policy
// §7's note covers them; online escrow and offline recovery refuse them in the same words.
import type { KeyBackend } from '../core/key-backend.js';
import { KeywardError } from '../core/keyward-error.js';

type EscrowMethod = 'exportForEscrow' | 'importFromEscrow' | 'recoverFromEscrow';

/** The backend's escrow `method`, bound to it, or `failed-precondition` when its keys are not extractable. */
export function escrowCapable<M extends EscrowMethod>(keyId: string, backend: KeyBackend, method: M): NonNullable<KeyBackend[M]> {
  const fn: KeyBackend[EscrowMethod] = backend[method];
  if (fn === undefined) {
    throw new KeywardError(
      'failed-precondition',
      `key "${keyId}" is held by backend "${backend.name}" (${backend.kind}) where key material is not extractable, so keyward cannot escrow it. Policy §7's note applies (rely on the ${backend.kind === 'vault' ? 'KMS' : 'HSM'}'s own backup and replication)`,
    );
  }
  return (fn as (...args: never[]) => unknown).bind(backend) as NonNullable<KeyBackend[M]>;
}
