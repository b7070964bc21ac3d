// The contract every KEK backend (local, vault, pkcs11) fulfils. A KEK never crosses
// it: callers name a key id and version, and get back wrapped or unwrapped DEKs. Only
// the composition root (daemon/) constructs backends.
import type { KeySpec, KeyVersions } from './key-types.js';
import type { SecretBytes } from './secret-bytes.js';

/** A fresh DEK: the plaintext for the cache, the wrapped form for the envelope. */
export interface DataKey {
  readonly plaintext: SecretBytes;
  readonly wrapped: Uint8Array;
}

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

  /** Whether the backend can serve calls that need it now (health). */
  isReady(): boolean;

  /** Releases sessions and zeroizes key material. Called once, after in-flight calls. */
  close(): Promise<void>;
}
