// The declared keys as offline escrow recovery sees them (docs/escrow.md, recovery onto a
// new host): each key of the configuration with its backend, but without ensureKey, which
// would generate a version 1 that the escrowed one could then never replace. A backend is
// opened only when recovered material is about to go into it, so that shares refused
// before that leave the new host's keystore as it was.
import type { EscrowImportResult, KeyBackend } from '../core/key-backend.js';
import type { KeySpec, KeyVersions } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import { escrowCapable } from './escrow-capable-backend.js';

export interface DeclaredKey {
  readonly spec: KeySpec;
  readonly backend: KeyBackend;
}

export class OfflineEscrowKeys {
  readonly #specs: ReadonlyMap<string, KeySpec>;
  readonly #backends: ReadonlyMap<string, KeyBackend>;
  readonly #opened = new Map<KeyBackend, Promise<void>>();

  constructor(specs: readonly KeySpec[], backends: ReadonlyMap<string, KeyBackend>) {
    this.#specs = new Map(specs.map((spec) => [spec.keyId, spec]));
    this.#backends = backends;
  }

  /** The declared key, or `failed-precondition`: recovery creates only keys the configuration declares. */
  get(keyId: string): DeclaredKey {
    const spec = this.#specs.get(keyId);
    if (spec === undefined) {
      throw new KeywardError(
        'failed-precondition',
        `key "${keyId}" is not declared in the configuration: declare it (id, backend, and the purpose and algorithm of the escrow) and recover again`,
      );
    }
    const backend = this.#backends.get(spec.backend);
    if (backend === undefined) throw new KeywardError('failed-precondition', `key "${keyId}": no backend "${spec.backend}"`);
    return { spec, backend };
  }

  /**
   * Puts recovered material into the key's backend, creating the key there if it has no
   * version yet. Offline recovery always imports (it never only verifies).
   */
  async importFromEscrow(keyId: string, version: number, material: SecretBytes): Promise<{ result: EscrowImportResult; versions: KeyVersions }> {
    const { spec, backend } = this.get(keyId);
    const recover = escrowCapable(keyId, backend, 'recoverFromEscrow');
    await this.#open(backend);
    return recover(spec, version, material);
  }

  /** The key's versions as its backend holds them now (after a recovery). */
  async describe(keyId: string): Promise<KeyVersions> {
    return this.get(keyId).backend.describeKey(keyId);
  }

  /** Closes the backends this opened. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#opened.keys()].map((backend) => backend.close()));
  }

  #open(backend: KeyBackend): Promise<void> {
    let opened = this.#opened.get(backend);
    if (opened === undefined) {
      opened = backend.open();
      this.#opened.set(backend, opened);
    }
    return opened;
  }
}
