// Use cases of the admin plane: list, describe and rotate keys. Rotation purges nothing:
// older versions keep decrypting; new Encrypt calls move to the new primary version.
import type { KeyAlgorithm, KeyPurpose, KeyVersionInfo } from '../core/key-types.js';
import type { KeyRegistry, RegisteredKey } from '../keys/key-registry.js';

/** What key administration needs of the registry (the admin plane depends on this, not on keys/). */
export type KeyCatalog = Pick<KeyRegistry, 'list' | 'get' | 'rotate'>;
import { authorizeKey } from './authorize-key.js';
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

/** The keys the caller may list; a caller granted `list` on no key at all is denied. */
export function listKeys(registry: KeyCatalog, ctx: CallContext): KeyDescription[] {
  ctx.caller.authorizeAny('list');
  return registry
    .list()
    .filter((key) => ctx.caller.permits('list', key.spec.keyId))
    .map(describe);
}

export function describeKey(registry: KeyCatalog, keyId: string, ctx: CallContext): KeyDescription {
  requireKeyId(keyId);
  authorizeKey(ctx, 'describe', keyId);
  return describe(registry.get(keyId));
}

export async function rotateKey(registry: KeyCatalog, keyId: string, ctx: CallContext): Promise<KeyDescription> {
  requireKeyId(keyId);
  authorizeKey(ctx, 'rotate', keyId);
  return describe(await registry.rotate(keyId));
}
