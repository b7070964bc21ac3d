// The mechanism both DEK caches share: an LRU of entries that belong to a (key,
// version) and own a SecretBytes, where every way out — eviction, expiry (a sweep
// timer), delete, purge, close — zeroizes the secret, and a load still waiting on a
// backend when its key is purged or the cache closes is disposed instead of cached.
import { LRUCache } from 'lru-cache';
import type { SecretBytes } from '../core/secret-bytes.js';
import { SingleFlight } from './single-flight.js';

export interface VersionedSecret {
  readonly keyId: string;
  readonly version: number;
  readonly dek: SecretBytes;
}

interface PendingLoad {
  readonly keyId: string;
  readonly version: number;
  cancelled: boolean;
}

const versionId = (keyId: string, version: number) => `${keyId}#${version}`;

const matches = (e: { keyId: string; version: number }, keyId: string, version?: number) =>
  e.keyId === keyId && (version === undefined || e.version === version);

export class KeyVersionCache<E extends VersionedSecret> {
  readonly #cache: LRUCache<string, E>;
  readonly #loads = new SingleFlight<void>();
  readonly #pending = new Map<string, PendingLoad>();
  readonly #sweep: NodeJS.Timeout;
  /** Versions purged as revoked: nothing of theirs is cached again until allowed. */
  readonly #revoked = new Set<string>();
  #closed = false;

  /**
   * `onDispose` hears why each entry left: 'evict' (size), 'expire' (age), 'delete'
   * (limit reached, purge, close), 'set' (replaced) — for the eviction metric.
   */
  constructor(options: { max: number; ttlMs: number; onDispose?: (reason: string) => void }) {
    const onDispose = options.onDispose;
    this.#cache = new LRUCache<string, E>({
      max: options.max,
      ttl: options.ttlMs,
      updateAgeOnGet: false,
      dispose: (entry, _key, reason) => {
        entry.dek.dispose();
        onDispose?.(reason);
      },
    });
    this.#sweep = setInterval(() => this.#cache.purgeStale(), Math.max(10, Math.min(options.ttlMs / 4, 10_000)));
    this.#sweep.unref();
  }

  get(key: string): E | undefined {
    return this.#cache.get(key);
  }

  /** Caches `entry`, which the cache then owns; after close() or revocation it is zeroized at once. */
  set(key: string, entry: E): void {
    if (this.#closed || this.#revoked.has(versionId(entry.keyId, entry.version))) entry.dek.dispose();
    else this.#cache.set(key, entry);
  }

  delete(key: string): void {
    this.#cache.delete(key);
  }

  /**
   * Runs `produce` once for concurrent callers of the same `key` and caches what it
   * returns, unless the key was purged or the cache closed meanwhile (then the entry is
   * zeroized). `onCached` runs in the same tick as the entry enters the cache.
   */
  load(key: string, keyId: string, version: number, produce: () => Promise<E>, onCached?: (entry: E) => void): Promise<void> {
    return this.#loads.run(key, async () => {
      const pending: PendingLoad = { keyId, version, cancelled: this.#closed };
      this.#pending.set(key, pending);
      try {
        const entry = await produce();
        if (pending.cancelled || this.#revoked.has(versionId(keyId, version))) {
          entry.dek.dispose();
          return;
        }
        this.#cache.set(key, entry);
        onCached?.(entry);
      } finally {
        this.#pending.delete(key);
      }
    });
  }

  /**
   * Drops (and zeroizes) the entries of a key, or of one of its versions. Purging one
   * version revokes it: loads that finish later, and new ones, are zeroized instead of
   * cached, until allow() — so a call racing the revocation cannot re-cache its DEK.
   */
  purge(keyId: string, version?: number): void {
    if (version !== undefined) this.#revoked.add(versionId(keyId, version));
    for (const pending of this.#pending.values()) if (matches(pending, keyId, version)) pending.cancelled = true;
    this.#cache.purgeStale();
    const doomed: string[] = [];
    for (const [key, entry] of this.#cache.entries()) if (matches(entry, keyId, version)) doomed.push(key);
    for (const key of doomed) this.#cache.delete(key);
  }

  /** Lets a version revoked by purge() be cached again (it was enabled again). */
  allow(keyId: string, version: number): void {
    this.#revoked.delete(versionId(keyId, version));
  }

  /** Drops every entry past its TTL (also runs on the sweep timer). */
  purgeStale(): void {
    this.#cache.purgeStale();
  }

  get size(): number {
    return this.#cache.size;
  }

  /** Zeroizes everything, cancels pending loads and stops the sweep timer (shutdown). */
  close(): void {
    this.#closed = true;
    for (const pending of this.#pending.values()) pending.cancelled = true;
    clearInterval(this.#sweep);
    this.#cache.clear();
  }
}
