// The Encrypt side of the DEK cache: one active DEK per (key, version), reused until
// it reaches its age, message or byte limit (the AWS Encryption SDK caching model),
// then replaced. Every way an entry leaves (limit, expiry, eviction, purge, shutdown)
// zeroizes its DEK.
import type { DataKey } from '../core/key-backend.js';
import { KeyVersionCache, type VersionedSecret } from './key-version-cache.js';

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
export interface ActiveDek extends VersionedSecret {
  readonly wrapped: Uint8Array;
  messages: number;
  bytes: number;
}

function cacheKey(keyId: string, version: number): string {
  return `${keyId}#${version}`;
}

export class EncryptionDekCache {
  readonly #limits: EncryptionDekLimits;
  readonly #cache: KeyVersionCache<ActiveDek>;

  constructor(limits: EncryptionDekLimits, onDispose?: (reason: string) => void) {
    this.#limits = limits;
    this.#cache = new KeyVersionCache({ max: limits.maxKeys, ttlMs: limits.maxAgeMs, ...(onDispose ? { onDispose } : {}) });
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
    return this.#cache.load(
      cacheKey(keyId, version),
      keyId,
      version,
      async () => {
        const dataKey = await create();
        return { keyId, version, dek: dataKey.plaintext, wrapped: dataKey.wrapped, messages: 0, bytes: 0 };
      },
      onInstalled && ((entry) => onInstalled({ plaintext: entry.dek, wrapped: entry.wrapped })),
    );
  }

  /** Drops (and zeroizes) the active DEKs of a key, or of one of its versions. */
  purge(keyId: string, version?: number): void {
    this.#cache.purge(keyId, version);
  }

  /** Drops every entry whose age limit has passed (also runs on a timer). */
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
