// A test-only backend that serves imported public keys and MAC keys (e.g. Wycheproof's),
// so vectors run through the service's real Verify and VerifyMac paths. Nothing in
// src/ can construct it: importing keys is not reachable from the daemon's API.
import { createHmac, type KeyObject } from 'node:crypto';
import type { DataKey, KeyBackend } from '../../src/core/key-backend.js';
import type { KeySpec, KeyVersions } from '../../src/core/key-types.js';
import { KeywardError } from '../../src/core/keyward-error.js';
import type { SecretBytes } from '../../src/core/secret-bytes.js';

export type ImportedKey = { readonly publicKey: KeyObject } | { readonly macKey: Buffer };

export class ImportedKeyBackend implements KeyBackend {
  readonly name = 'imported';
  readonly kind = 'imported';
  readonly #keys: ReadonlyMap<string, ImportedKey>;

  constructor(keys: ReadonlyMap<string, ImportedKey>) {
    this.#keys = keys;
  }

  async open(): Promise<void> {}
  isReady(): boolean {
    return true;
  }
  async close(): Promise<void> {}

  async ensureKey(spec: KeySpec): Promise<KeyVersions> {
    if (!this.#keys.has(spec.keyId)) throw new KeywardError('not-found', `no imported key ${spec.keyId}`);
    return { primaryVersion: 1, versions: [{ version: 1, state: 'enabled', createdAt: new Date(0) }] };
  }
  describeKey(keyId: string): Promise<KeyVersions> {
    return this.ensureKey({ keyId, purpose: 'sign', algorithm: 'ed25519', backend: this.name });
  }

  async publicKey(keyId: string): Promise<KeyObject> {
    const key = this.#keys.get(keyId);
    if (key === undefined || !('publicKey' in key)) throw new KeywardError('failed-precondition', `${keyId} has no public key`);
    return key.publicKey;
  }

  async mac(keyId: string, _version: number, data: Uint8Array): Promise<Buffer> {
    const key = this.#keys.get(keyId);
    if (key === undefined || !('macKey' in key)) throw new KeywardError('failed-precondition', `${keyId} is not a MAC key`);
    return createHmac('sha256', key.macKey).update(data).digest();
  }

  async sign(): Promise<Buffer> {
    throw new KeywardError('unimplemented', 'imported keys verify only');
  }
  async rotateKey(): Promise<KeyVersions> {
    throw new KeywardError('unimplemented', 'imported keys do not rotate');
  }
  async generateDataKey(): Promise<DataKey> {
    throw new KeywardError('unimplemented', 'imported keys do not encrypt');
  }
  async unwrapDataKey(): Promise<SecretBytes> {
    throw new KeywardError('unimplemented', 'imported keys do not encrypt');
  }
}
