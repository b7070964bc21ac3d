// Use cases of the admin plane: list, describe and rotate keys. Rotation purges nothing:
// older versions keep decrypting; new Encrypt calls move to the new primary version.
import type { KeyAlgorithm, KeyPurpose, KeyVersionInfo } from '../core/key-types.js';
import type { KeyRegistry, RegisteredKey } from '../keys/key-registry.js';
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

export function listKeys(registry: KeyRegistry, _ctx: CallContext): KeyDescription[] {
  return registry.list().map(describe);
}

export function describeKey(registry: KeyRegistry, keyId: string, _ctx: CallContext): KeyDescription {
  return describe(registry.get(requireKeyId(keyId)));
}

export async function rotateKey(registry: KeyRegistry, keyId: string, _ctx: CallContext): Promise<KeyDescription> {
  return describe(await registry.rotate(requireKeyId(keyId)));
}
