// Use cases of the admin plane: list, describe and rotate keys. Rotation purges nothing:
// older versions keep decrypting; new Encrypt calls move to the new primary version.
import type { KeyAlgorithm, KeyPurpose, KeyVersionInfo } from '../core/key-types.js';
import type { KeyRegistry, RegisteredKey } from '../keys/key-registry.js';

/** What key administration needs of the registry (the admin plane depends on this, not on keys/). */
export type KeyCatalog = Pick<KeyRegistry, 'list' | 'get' | 'rotate'>;
import type { CallContext } from './call-context.js';
import { requireKeyId } from './request-checks.js';

export interface KeyDescription {
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  readonly algorithm: KeyAlgorithm;
  readonly backend: string;
  readonly primaryVersion: number;
  readonly versions: readonly KeyVersionInfo[];
}

function describe(key: RegisteredKey): KeyDescription {
  return {
    keyId: key.spec.keyId,
    purpose: key.spec.purpose,
    algorithm: key.spec.algorithm,
    backend: key.backend.name,
    primaryVersion: key.versions.primaryVersion,
    versions: key.versions.versions,
  };
}

export function listKeys(registry: KeyCatalog, _ctx: CallContext): KeyDescription[] {
  return registry.list().map(describe);
}

export function describeKey(registry: KeyCatalog, keyId: string, _ctx: CallContext): KeyDescription {
  return describe(registry.get(requireKeyId(keyId)));
}

export async function rotateKey(registry: KeyCatalog, keyId: string, _ctx: CallContext): Promise<KeyDescription> {
  return describe(await registry.rotate(requireKeyId(keyId)));
}
