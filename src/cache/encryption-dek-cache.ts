// The Encrypt side of the DEK cache: one active DEK per (key, version), reused until
// it reaches its age, message or byte limit (the AWS Encryption SDK caching model),
// then replaced. Every way an entry leaves (limit, expiry, eviction, purge, shutdown)
// zeroizes its DEK.
import { LRUCache } from 'lru-cache';
import type { DataKey } from '../core/key-backend.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import { SingleFlight } from './single-flight.js';

export interface EncryptionDekLimits {
  /** How long one DEK may seal messages. */
  readonly maxAgeMs: number;
  /** How many messages one DEK may seal. */
  readonly maxMessages: number;
  /** How many plaintext bytes one DEK may seal. */
  readonly maxBytes: number;
  /** How many (key, version) pairs may hold an active DEK at once. */
  readonly maxKeys: number;
}

/** An active DEK with its usage so far. */
export interface ActiveDek {
  readonly keyId: string;
  readonly version: number;
  readonly dek: SecretBytes;
  readonly wrapped: Uint8Array;
  messages: number;
  bytes: number;
}

function cacheKey(keyId: string, version: number): string {
  return `${keyId}#${version}`;
}

export class EncryptionDekCache {
  readonly #limits: EncryptionDekLimits;
  readonly #cache: LRUCache<string, ActiveDek>;
  readonly #loads = new SingleFlight<void>();
  /** Loads under way; purge() and close() cancel them so a late DEK is zeroized, not cached. */
  readonly #inflight = new Map<string, { keyId: string; version: number; cancelled: boolean }>();
  #closed = false;
  readonly #sweep: NodeJS.Timeout;

  constructor(limits: EncryptionDekLimits) {
    this.#limits = limits;
    this.#cache = new LRUCache<string, ActiveDek>({
      max: limits.maxKeys,
      ttl: limits.maxAgeMs,
      updateAgeOnGet: false,
      dispose: (entry) => entry.dek.dispose(),
    });
    this.#sweep = setInterval(() => this.#cache.purgeStale(), Math.max(10, Math.min(limits.maxAgeMs / 4, 10_000)));
    this.#sweep.unref();
  }

  /**
   * Counts one message of `bytes` against the active DEK of (key, version) and returns
   * it, or returns undefined when there is none or the message would pass a limit (the
   * spent DEK is then dropped and zeroized). Synchronous: use the DEK before awaiting.
   */
  reserve(keyId: string, version: number, bytes: number): ActiveDek | undefined {
    const key = cacheKey(keyId, version);
    const entry = this.#cache.get(key);
    if (entry === undefined) return undefined;
    const withinMessages = entry.messages + 1 <= this.#limits.maxMessages;
    // A message larger than the byte limit gets a fresh DEK of its own.
    const withinBytes = entry.bytes + bytes <= this.#limits.maxBytes || entry.messages === 0;
    if (!withinMessages || !withinBytes) {
      this.#cache.delete(key);
      return undefined;
    }
    entry.messages += 1;
    entry.bytes += bytes;
    return entry;
  }

  /**
   * Makes a new active DEK for (key, version) with `create` unless one is being made
   * already. The cache takes ownership of the DataKey's plaintext. `onInstalled` runs
   * in the same tick as the DEK enters the cache, and never for a cancelled load.
   */
  refill(
    keyId: string,
    version: number,
    create: () => Promise<DataKey>,
    onInstalled?: (dataKey: DataKey) => void,
  ): Promise<void> {
    const key = cacheKey(keyId, version);
    return this.#loads.run(key, async () => {
      const load = { keyId, version, cancelled: this.#closed };
      this.#inflight.set(key, load);
      try {
        const dataKey = await create();
        // Purged (revoked) or closed while the backend call was under way: do not cache.
        if (load.cancelled) {
          dataKey.plaintext.dispose();
          return;
        }
        this.#cache.set(key, { keyId, version, dek: dataKey.plaintext, wrapped: dataKey.wrapped, messages: 0, bytes: 0 });
        onInstalled?.(dataKey);
      } finally {
        this.#inflight.delete(key);
      }
    });
  }

  /** Drops (and zeroizes) the active DEKs of a key, or of one of its versions. */
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

  /** Drops every entry whose age limit has passed (also runs on a timer). */
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
