// The Decrypt side of the DEK cache: unwrapped DEKs by (key, version, digest of the
// wrapped DEK), with a TTL and a maximum number of entries, so only misses reach the
// backend. Eviction, expiry, purge and shutdown zeroize.
import { createHash } from 'node:crypto';
import type { SecretBytes } from '../core/secret-bytes.js';
import { KeyVersionCache, type VersionedSecret } from './key-version-cache.js';

export interface DecryptionDekLimits {
  readonly ttlMs: number;
  readonly maxEntries: number;
}

function cacheKey(keyId: string, version: number, wrapped: Uint8Array): string {
  const hash = createHash('sha256');
  hash.update(keyId);
  hash.update(`#${version}#`);
  hash.update(wrapped);
  return hash.digest('base64');
}

export class DecryptionDekCache {
  readonly #cache: KeyVersionCache<VersionedSecret>;

  constructor(limits: DecryptionDekLimits, onDispose?: (reason: string) => void) {
    this.#cache = new KeyVersionCache({ max: limits.maxEntries, ttlMs: limits.ttlMs, ...(onDispose ? { onDispose } : {}) });
  }

  /** The cached DEK, or undefined. Synchronous: use it before awaiting anything. */
  get(keyId: string, version: number, wrapped: Uint8Array): SecretBytes | undefined {
    return this.#cache.get(cacheKey(keyId, version, wrapped))?.dek;
  }

  /** Caches a DEK; the cache takes ownership of `dek` (zeroized at once after close). */
  set(keyId: string, version: number, wrapped: Uint8Array, dek: SecretBytes): void {
    this.#cache.set(cacheKey(keyId, version, wrapped), { keyId, version, dek });
  }

  /** Unwraps with `unwrap` and caches the result, once for concurrent callers. */
  load(keyId: string, version: number, wrapped: Uint8Array, unwrap: () => Promise<SecretBytes>): Promise<void> {
    return this.#cache.load(cacheKey(keyId, version, wrapped), keyId, version, async () => ({ keyId, version, dek: await unwrap() }));
  }

  /** Drops (and zeroizes) the DEKs of a key, or of one of its versions. */
  purge(keyId: string, version?: number): void {
    this.#cache.purge(keyId, version);
  }

  /** A version revoked by purge() may be cached again. */
  allow(keyId: string, version: number): void {
    this.#cache.allow(keyId, version);
  }

  purgeStale(): void {
    this.#cache.purgeStale();
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Zeroizes everything and stops the sweep timer (shutdown). */
  close(): void {
    this.#cache.close();
  }
}
