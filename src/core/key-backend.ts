// The contract every KEK backend (local, vault, pkcs11) fulfils. A KEK never crosses
// it: callers name a key id and version, and get back wrapped or unwrapped DEKs. Only
// the composition root (daemon/) constructs backends.
import type { KeyObject } from 'node:crypto';
import type { KeySpec, KeyVersions } from './key-types.js';
import type { SecretBytes } from './secret-bytes.js';

/** A fresh DEK: the plaintext for the cache, the wrapped form for the envelope. */
export interface DataKey {
  readonly plaintext: SecretBytes;
  readonly wrapped: Uint8Array;
}

/**
 * A signature scheme. ECDSA signatures cross the backend interface as IEEE P1363
 * (r || s, 64 bytes for P-256); RSA-PSS uses SHA-256, MGF1 with SHA-256 and a 32-byte
 * salt (as JOSE's PS256 requires).
 */
export type SignatureScheme = 'ed25519' | 'ecdsa-p256-sha256' | 'rsa-pkcs1-sha256' | 'rsa-pss-sha256';

/** What to sign: the message, or (not for Ed25519) its SHA-256 digest. */
export type SignInput = { readonly message: Uint8Array } | { readonly digest: Uint8Array };

/** What importFromEscrow did: put a missing version back, or found it equal to the recovered one. */
export type EscrowImportResult = 'imported' | 'verified';

export interface KeyBackend {
  /** The instance name from the configuration ("local", "hsm-a" …). */
  readonly name: string;
  /** The backend kind: "local", "vault" or "pkcs11". */
  readonly kind: string;

  /** Connects and authenticates. Throws a KeywardError that says what is wrong. */
  open(): Promise<void>;

  /**
   * Makes sure a declared key exists, creating its first version where the backend
   * and its configuration allow, and returns its versions. Throws `failed-precondition`
   * when an existing key does not match the spec.
   */
  ensureKey(spec: KeySpec): Promise<KeyVersions>;

  /** The versions of a key as the backend knows them now. */
  describeKey(keyId: string): Promise<KeyVersions>;

  /** Creates a new version and makes it primary. */
  rotateKey(keyId: string): Promise<KeyVersions>;

  /** Generates a DEK with the backend's RNG and wraps it under the key version. */
  generateDataKey(keyId: string, version: number): Promise<DataKey>;

  /**
   * Unwraps a DEK made by generateDataKey for the same key id and version. Throws
   * `decryption-failed` when the wrapped bytes do not authenticate.
   */
  unwrapDataKey(keyId: string, version: number, wrapped: Uint8Array): Promise<SecretBytes>;

  /**
   * Signs with a version of a signing key; the private key never leaves the backend.
   * Throws `failed-precondition` when the key cannot use `scheme`.
   */
  sign(keyId: string, version: number, scheme: SignatureScheme, input: SignInput): Promise<Buffer>;

  /** The public key of a version of a signing key (for Verify and GetPublicKey). */
  publicKey(keyId: string, version: number): Promise<KeyObject>;

  /**
   * Verifies a signature over a precomputed SHA-256 digest with a version's public key,
   * for schemes node:crypto cannot verify prehashed (ECDSA, RSA-PSS, PKCS#1). ECDSA
   * signatures arrive as P1363. Optional: without it, digest verification answers
   * `unimplemented`.
   */
  verifyDigest?(keyId: string, version: number, scheme: SignatureScheme, digest: Uint8Array, signature: Uint8Array): Promise<boolean>;

  /** HMAC-SHA-256 of `data` with a version of a MAC key. */
  mac(keyId: string, version: number, data: Uint8Array): Promise<Buffer>;

  /**
   * Optional: reports versions the backend learns of by itself (a key rotated
   * elsewhere, a version disabled in Vault). Returns a function that unsubscribes.
   */
  watchVersions?(listener: (keyId: string, versions: KeyVersions) => void): () => void;

  /**
   * Optional, for key escrow (policy §7): a copy of a version's key material — raw bytes
   * for symmetric keys, PKCS#8 DER for private keys — which the caller seals and wipes.
   * Only backends whose keys may leave them implement it (the local one); without it a
   * key cannot be escrowed by keyward.
   */
  exportForEscrow?(keyId: string, version: number): Promise<SecretBytes>;

  /**
   * Optional, the other half of exportForEscrow: puts recovered material back as
   * `version`. An existing version is compared in constant time ('verified' when equal,
   * `already-exists` when not); a missing one is added, enabled, without changing the
   * primary version ('imported'), unless `verifyOnly` (then `not-found`). The caller
   * still owns and wipes `material`.
   */
  importFromEscrow?(
    keyId: string,
    version: number,
    material: SecretBytes,
    verifyOnly: boolean,
  ): Promise<{ readonly result: EscrowImportResult; readonly versions: KeyVersions }>;

  /**
   * Optional, offline recovery onto a new host (docs/escrow.md): importFromEscrow for a
   * declared key that ensureKey has not been asked for and that may not exist yet. A
   * missing key is created as `spec` with `version` as its one version and primary; in a
   * key created this way the highest recovered version is primary; in any other key the
   * primary does not change. Throws `failed-precondition` when an existing key does not
   * match `spec`. The caller still owns and wipes `material`.
   */
  recoverFromEscrow?(
    spec: KeySpec,
    version: number,
    material: SecretBytes,
  ): Promise<{ readonly result: EscrowImportResult; readonly versions: KeyVersions }>;

  /** Whether the backend can serve calls that need it now (health). */
  isReady(): boolean;

  /** Releases sessions and zeroizes key material. Called once, after in-flight calls. */
  close(): Promise<void>;
}
