// Public keys of signing key versions, fetched from the backend once and kept: Verify
// and GetPublicKey need no backend call after the first (public keys are not secret).
import type { KeyObject } from 'node:crypto';
import type { RegisteredKey } from './key-registry.js';

export class PublicKeyring {
  readonly #keys = new Map<string, Promise<KeyObject>>();

  get(key: RegisteredKey, version: number): Promise<KeyObject> {
    const id = `${key.spec.keyId}#${version}`;
    let pending = this.#keys.get(id);
    if (pending === undefined) {
      pending = key.backend.publicKey(key.spec.keyId, version);
      pending.catch(() => this.#keys.delete(id));
      this.#keys.set(id, pending);
    }
    return pending;
  }
}
