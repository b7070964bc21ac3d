// The vocabulary of keys shared by every layer: purposes, algorithms, version states
// and the shapes a backend reports. Purpose binding (policy §3.5) starts here: each
// algorithm belongs to exactly one purpose.

export type KeyPurpose = 'encrypt' | 'sign' | 'mac';

export type KeyAlgorithm = 'aes-256-gcm' | 'ed25519' | 'ecdsa-p256' | 'rsa-4096' | 'hmac-sha256';

export const ALGORITHMS_BY_PURPOSE: Readonly<Record<KeyPurpose, readonly KeyAlgorithm[]>> = Object.freeze({
  encrypt: Object.freeze(['aes-256-gcm'] as const),
  sign: Object.freeze(['ed25519', 'ecdsa-p256', 'rsa-4096'] as const),
  mac: Object.freeze(['hmac-sha256'] as const),
});

/** The signature schemes each signing algorithm can use (see SignatureScheme). */
export const SCHEMES_BY_ALGORITHM: Readonly<Partial<Record<KeyAlgorithm, readonly string[]>>> = Object.freeze({
  ed25519: Object.freeze(['ed25519']),
  'ecdsa-p256': Object.freeze(['ecdsa-p256-sha256']),
  'rsa-4096': Object.freeze(['rsa-pkcs1-sha256', 'rsa-pss-sha256']),
});

export type KeyVersionState = 'enabled' | 'disabled' | 'destroy-scheduled' | 'destroyed';

/** A key as declared in the configuration. */
export interface KeySpec {
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  readonly algorithm: KeyAlgorithm;
  /** The name of the backend instance that holds the key. */
  readonly backend: string;
}

export interface KeyVersionInfo {
  readonly version: number;
  readonly state: KeyVersionState;
  readonly createdAt: Date;
  readonly destroyAt?: Date;
}

/** The versions of a key as its backend knows them. */
export interface KeyVersions {
  readonly primaryVersion: number;
  readonly versions: readonly KeyVersionInfo[];
  /** Set by ensureKey when it generated the key just now (a lifecycle event). */
  readonly generated?: boolean;
}

/** Key ids: what the envelope header and backends' object names can carry. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;
export const KEY_ID_MAX_BYTES = 128;
