// The registry of keys the daemon serves: each declared key with its backend, purpose
// and the versions the backend reports. It answers "may this key do this, and with
// which version" — purpose binding (policy §3.5) and version states are enforced here —
// and it is the serving daemon's one way to a backend's escrow export and import, so that
// a version put back from escrow (policy §7) is known at once. (Offline recovery, with no
// daemon, goes through offline-escrow-keys.ts.)
import type { EscrowImportResult, KeyBackend } from '../core/key-backend.js';
import type { KeyPurpose, KeySpec, KeyVersionInfo, KeyVersions } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import { escrowCapable } from './escrow-capable-backend.js';

/** How often a caller naming an unknown version may make the registry ask the backend. */
const REFRESH_INTERVAL_MS = 1_000;

export interface RegisteredKey {
  readonly spec: KeySpec;
  readonly backend: KeyBackend;
  readonly versions: KeyVersions;
}

export type VersionChangeListener = (keyId: string, versions: KeyVersions) => void;

export class KeyRegistry {
  readonly #keys = new Map<string, RegisteredKey>();
  readonly #listeners: VersionChangeListener[] = [];
  readonly #refreshes = new Map<string, { at: number; pending?: Promise<RegisteredKey> }>();

  private constructor() {}

  /** Makes sure every declared key exists in its backend and records its versions. */
  static async open(
    specs: readonly KeySpec[],
    backends: ReadonlyMap<string, KeyBackend>,
    onGenerated?: (spec: KeySpec, versions: KeyVersions) => void,
  ): Promise<KeyRegistry> {
    const registry = new KeyRegistry();
    for (const spec of specs) {
      const backend = backends.get(spec.backend);
      if (backend === undefined) throw new KeywardError('failed-precondition', `key "${spec.keyId}": no backend "${spec.backend}"`);
      const { generated, ...versions } = await backend.ensureKey(spec);
      registry.#keys.set(spec.keyId, { spec, backend, versions });
      if (generated) onGenerated?.(spec, versions);
    }
    for (const backend of new Set([...registry.#keys.values()].map((k) => k.backend))) {
      backend.watchVersions?.((keyId, versions) => {
        const key = registry.#keys.get(keyId);
        if (key !== undefined && key.backend === backend) registry.#update(key, versions);
      });
    }
    return registry;
  }

  /** Called after a key's versions change (rotation, later: disable, destroy). */
  onVersionChange(listener: VersionChangeListener): void {
    this.#listeners.push(listener);
  }

  list(): RegisteredKey[] {
    return [...this.#keys.values()];
  }

  /** The key, or `not-found`. */
  get(keyId: string): RegisteredKey {
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new KeywardError('not-found', `key "${keyId}" not found`);
    return key;
  }

  /** The key when its purpose allows `operation`, else `failed-precondition`. */
  forPurpose(keyId: string, purpose: KeyPurpose, operation: string): RegisteredKey {
    const key = this.get(keyId);
    if (key.spec.purpose !== purpose) {
      throw new KeywardError(
        'failed-precondition',
        `key "${keyId}" is a ${key.spec.purpose} key and cannot be used to ${operation}`,
      );
    }
    return key;
  }

  /** The primary version, which must be enabled to encrypt or sign. */
  primaryVersion(key: RegisteredKey): KeyVersionInfo {
    return this.usableVersion(key, key.versions.primaryVersion);
  }

  /**
   * The key, after asking its backend once more when `version` is newer than any the
   * registry knows: another host may have rotated the key before our view caught up.
   */
  async withVersion(keyId: string, version: number): Promise<RegisteredKey> {
    const key = this.get(keyId);
    // The hot path (Decrypt of a known version) allocates nothing here.
    if (key.versions.versions.some((v) => v.version === version)) return key;
    const newest = Math.max(0, ...key.versions.versions.map((v) => v.version));
    if (version <= newest) return key;
    // Callers choose the version in a ciphertext header: at most one backend refresh
    // per key in flight, and one per REFRESH_INTERVAL_MS, however many ask.
    const refresh = this.#refreshes.get(keyId);
    if (refresh?.pending) return refresh.pending;
    if (refresh !== undefined && Date.now() - refresh.at < REFRESH_INTERVAL_MS) return key;
    const pending = key.backend
      .describeKey(keyId)
      .then((versions) => this.#update(this.get(keyId), versions))
      .finally(() => this.#refreshes.set(keyId, { at: Date.now() }));
    this.#refreshes.set(keyId, { at: Date.now(), pending });
    return pending;
  }

  /** The version a caller names (0: the primary), in whatever state, or `not-found`. */
  namedVersion(key: RegisteredKey, version: number): KeyVersionInfo {
    const wanted = version === 0 ? key.versions.primaryVersion : version;
    const info = key.versions.versions.find((v) => v.version === wanted);
    if (info === undefined) throw new KeywardError('not-found', `key "${key.spec.keyId}" has no version ${wanted}`);
    return info;
  }

  /** A version that may decrypt or verify now: it exists and is enabled. */
  usableVersion(key: RegisteredKey, version: number): KeyVersionInfo {
    const info = key.versions.versions.find((v) => v.version === version);
    if (info === undefined) throw new KeywardError('not-found', `key "${key.spec.keyId}" has no version ${version}`);
    if (info.state !== 'enabled') {
      throw new KeywardError('failed-precondition', `version ${version} of key "${key.spec.keyId}" is ${info.state}`);
    }
    return info;
  }

  /** Creates a new primary version in the backend. */
  async rotate(keyId: string): Promise<RegisteredKey> {
    const key = this.get(keyId);
    const versions = await key.backend.rotateKey(keyId);
    return this.#update(key, versions);
  }

  /** A version's key material for escrow (policy §7); the caller seals and wipes it. */
  async exportForEscrow(keyId: string, version: number): Promise<SecretBytes> {
    return escrowCapable(keyId, this.get(keyId).backend, 'exportForEscrow')(keyId, version);
  }

  /** Puts recovered material back (or verifies it); the registry then knows the version. */
  async importFromEscrow(keyId: string, version: number, material: SecretBytes, verifyOnly: boolean): Promise<{ result: EscrowImportResult; key: RegisteredKey }> {
    const key = this.get(keyId);
    const { result, versions } = await escrowCapable(keyId, key.backend, 'importFromEscrow')(keyId, version, material, verifyOnly);
    return { result, key: result === 'imported' ? this.#update(this.get(keyId), versions) : this.get(keyId) };
  }

  #update(key: RegisteredKey, versions: KeyVersions): RegisteredKey {
    const updated = { ...key, versions };
    this.#keys.set(key.spec.keyId, updated);
    for (const listener of this.#listeners) listener(key.spec.keyId, versions);
    return updated;
  }
}
