// Seals and opens envelopes with DEKs from the cache, going to the key's backend only
// on a miss: the hot path of Encrypt and Decrypt. DEKs are used synchronously right
// after they are taken from the cache, so no eviction can zeroize one mid-use.
import type { DecryptionDekCache } from '../cache/decryption-dek-cache.js';
import type { EncryptionDekCache } from '../cache/encryption-dek-cache.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import { openEnvelope, sealEnvelope } from '../crypto/envelope-cipher.js';
import type { Envelope } from '../crypto/envelope-format.js';
import type { RegisteredKey } from './key-registry.js';

/** How many times a call tries the cache before it unwraps a DEK for itself alone. */
const CACHE_ATTEMPTS = 3;

export interface SealResult {
  readonly ciphertext: Buffer;
  readonly cacheHit: boolean;
  /** This call made the backend generate a DEK (concurrent misses share one). */
  readonly dekGenerated: boolean;
}

export interface OpenResult {
  readonly plaintext: Buffer;
  readonly cacheHit: boolean;
}

export class EnvelopeKeyring {
  readonly #encryptCache: EncryptionDekCache;
  readonly #decryptCache: DecryptionDekCache;

  constructor(encryptCache: EncryptionDekCache, decryptCache: DecryptionDekCache) {
    this.#encryptCache = encryptCache;
    this.#decryptCache = decryptCache;
  }

  /** Seals under `version` of `key` with its active DEK, making one when needed. */
  async seal(key: RegisteredKey, version: number, plaintext: Uint8Array, associatedData: Uint8Array): Promise<SealResult> {
    const keyId = key.spec.keyId;
    const seal = (dek: SecretBytes, wrappedDek: Uint8Array) =>
      sealEnvelope({ dek: dek.expose(), keyId, keyVersion: version, wrappedDek, plaintext, associatedData });
    let cacheHit = true;
    let dekGenerated = false;
    for (let attempt = 0; attempt < CACHE_ATTEMPTS; attempt++) {
      const active = this.#encryptCache.reserve(keyId, version, plaintext.byteLength);
      if (active !== undefined) return { ciphertext: seal(active.dek, active.wrapped), cacheHit, dekGenerated };
      cacheHit = false;
      await this.#encryptCache.refill(
        keyId,
        version,
        () => {
          dekGenerated = true;
          return key.backend.generateDataKey(keyId, version);
        },
        // Decrypting what we just sealed needs no backend call either.
        (dataKey) => this.#decryptCache.set(keyId, version, dataKey.wrapped, dataKey.plaintext.clone()),
      );
    }
    // Only a cache far smaller than the number of keys in use gets here: a DEK of its own.
    const own = await key.backend.generateDataKey(keyId, version);
    try {
      return { ciphertext: seal(own.plaintext, own.wrapped), cacheHit: false, dekGenerated: true };
    } finally {
      own.plaintext.dispose();
    }
  }

  /** Opens an envelope whose key and version the caller has already checked. */
  async open(key: RegisteredKey, envelope: Envelope, associatedData: Uint8Array): Promise<OpenResult> {
    const { keyVersion, wrappedDek } = envelope;
    const keyId = key.spec.keyId;
    const unwrap = () => key.backend.unwrapDataKey(keyId, keyVersion, wrappedDek);
    let cacheHit = true;
    for (let attempt = 0; attempt < CACHE_ATTEMPTS; attempt++) {
      const dek = this.#decryptCache.get(keyId, keyVersion, wrappedDek);
      if (dek !== undefined) return { plaintext: openEnvelope(envelope, dek.expose(), associatedData), cacheHit };
      cacheHit = false;
      await this.#decryptCache.load(keyId, keyVersion, wrappedDek, unwrap);
    }
    // Only a cache far smaller than the concurrency gets here: use a private copy.
    const own: SecretBytes = await unwrap();
    try {
      return { plaintext: openEnvelope(envelope, own.expose(), associatedData), cacheHit: false };
    } finally {
      own.dispose();
    }
  }

  /**
   * Zeroizes the cached DEKs of a key version (revocation: nothing of it is cached again
   * until allow()) or of a whole key.
   */
  purge(keyId: string, version?: number): void {
    this.#encryptCache.purge(keyId, version);
    this.#decryptCache.purge(keyId, version);
  }

  /** A version enabled again may use the caches again. */
  allow(keyId: string, version: number): void {
    this.#encryptCache.allow(keyId, version);
    this.#decryptCache.allow(keyId, version);
  }
}
