// The Decrypt side of the DEK cache: unwrapped DEKs by (key, version, digest of the
// wrapped DEK), with a TTL and a maximum number of entries, so only misses reach the
// backend. Eviction, expiry, purge and shutdown zeroize.
import { createHash } from 'node:crypto';
import { LRUCache } from 'lru-cache';
import type { SecretBytes } from '../core/secret-bytes.js';
import { SingleFlight } from './single-flight.js';

export interface DecryptionDekLimits {
  readonly ttlMs: number;
  readonly maxEntries: number;
}

interface CachedDek {
  readonly keyId: string;
  readonly version: number;
  readonly dek: SecretBytes;
}

function cacheKey(keyId: string, version: number, wrapped: Uint8Array): string {
  const hash = createHash('sha256');
  hash.update(keyId);
  hash.update(`#${version}#`);
  hash.update(wrapped);
  return hash.digest('base64');
}

export class DecryptionDekCache {
  readonly #cache: LRUCache<string, CachedDek>;
  readonly #loads = new SingleFlight<void>();
  /** Loads under way; purge() and close() cancel them so a late DEK is zeroized, not cached. */
  readonly #inflight = new Map<string, { keyId: string; version: number; cancelled: boolean }>();
  #closed = false;
  readonly #sweep: NodeJS.Timeout;

  constructor(limits: DecryptionDekLimits) {
    this.#cache = new LRUCache<string, CachedDek>({
      max: limits.maxEntries,
      ttl: limits.ttlMs,
      updateAgeOnGet: false,
      dispose: (entry) => entry.dek.dispose(),
    });
    this.#sweep = setInterval(() => this.#cache.purgeStale(), Math.max(10, Math.min(limits.ttlMs / 4, 10_000)));
    this.#sweep.unref();
  }

  /** The cached DEK, or undefined. Synchronous: use it before awaiting anything. */
  get(keyId: string, version: number, wrapped: Uint8Array): SecretBytes | undefined {
    return this.#cache.get(cacheKey(keyId, version, wrapped))?.dek;
  }

  /** Caches a DEK; the cache takes ownership of `dek`. */
  set(keyId: string, version: number, wrapped: Uint8Array, dek: SecretBytes): void {
    if (this.#closed) {
      dek.dispose();
      return;
    }
    this.#cache.set(cacheKey(keyId, version, wrapped), { keyId, version, dek });
  }

  /** Unwraps with `unwrap` and caches the result, once for concurrent callers. */
  load(keyId: string, version: number, wrapped: Uint8Array, unwrap: () => Promise<SecretBytes>): Promise<void> {
    const key = cacheKey(keyId, version, wrapped);
    return this.#loads.run(key, async () => {
      const load = { keyId, version, cancelled: this.#closed };
      this.#inflight.set(key, load);
      try {
        const dek = await unwrap();
        // Purged (revoked) or closed while the backend call was under way: do not cache.
        if (load.cancelled) {
          dek.dispose();
          return;
        }
        this.#cache.set(key, { keyId, version, dek });
      } finally {
        this.#inflight.delete(key);
      }
    });
  }

  /** Drops (and zeroizes) the DEKs of a key, or of one of its versions. */
  purge(keyId: string, version?: number): void {
    for (const load of this.#inflight.values()) {
      if (load.keyId === keyId && (version === undefined || load.version === version)) load.cancelled = true;
    }
    this.#cache.purgeStale();
    const doomed: string[] = [];
    for (const [key, entry] of this.#cache.entries()) {
      if (entry.keyId === keyId && (version === undefined || entry.version === version)) doomed.push(key);
    }
    for (const key of doomed) this.#cache.delete(key);
  }

  purgeStale(): void {
    this.#cache.purgeStale();
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Zeroizes everything and stops the sweep timer (shutdown). */
  close(): void {
    this.#closed = true;
    for (const load of this.#inflight.values()) load.cancelled = true;
    clearInterval(this.#sweep);
    this.#cache.clear();
  }
}
