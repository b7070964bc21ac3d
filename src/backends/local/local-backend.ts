// The embedded `local` backend, for development and single-host use: key versions live
// in a keystore directory wrapped under a root key file, and are unwrapped into
// SecretBytes only in memory. KEKs never leave this class: callers get wrapped and
// unwrapped DEKs only.
import {
  constants as cryptoConstants,
  createCipheriv,
  createDecipheriv,
  createHmac,
  createPrivateKey,
  createPublicKey,
  generateKeyPair,
  randomFillSync,
  sign as signAsync,
  timingSafeEqual,
  type KeyObject,
} from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { DataKey, EscrowImportResult, KeyBackend, SignatureScheme, SignInput } from '../../core/key-backend.js';
import {
  SCHEMES_BY_ALGORITHM,
  type KeyAlgorithm,
  type KeyPurpose,
  type KeySpec,
  type KeyVersionInfo,
  type KeyVersions,
} from '../../core/key-types.js';
import { KeywardError } from '../../core/keyward-error.js';
import type { Logger } from '../../core/logger.js';
import { SecretBytes } from '../../core/secret-bytes.js';
import { CREATED_BY_ESCROW_RECOVERY, loadOrCreateRootKey, readKeyFile, writeKeyFile, type KeyFile } from './keystore-files.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const signWithKey = promisify(signAsync);
const NONCE = 12;
const TAG = 16;
const DEK_BYTES = 32;

export interface LocalBackendOptions {
  readonly name: string;
  readonly keystoreDir: string;
  readonly rootKeyFile?: string;
  readonly logger: Logger;
}

interface LoadedKey {
  file: KeyFile;
  /** Unwrapped symmetric material by version (encrypt and mac keys). */
  readonly secrets: Map<number, SecretBytes>;
  /**
   * Private keys by version (sign keys), parsed once (design.md §8). A KeyObject cannot
   * be wiped from JavaScript; it lives until the process ends or the key is dropped.
   */
  readonly privateKeys: Map<number, KeyObject>;
  /** Serializes writes of this key's file. */
  writes: Promise<unknown>;
}

function seal(key: Buffer, plaintext: Uint8Array, aad: string): Buffer {
  const out = Buffer.allocUnsafe(NONCE + plaintext.byteLength + TAG);
  const nonce = out.subarray(0, NONCE);
  randomFillSync(nonce);
  const cipher = createCipheriv('aes-256-gcm', key, nonce, { authTagLength: TAG });
  cipher.setAAD(Buffer.from(aad, 'utf8'));
  const body = cipher.update(plaintext);
  body.copy(out, NONCE);
  cipher.final();
  cipher.getAuthTag().copy(out, NONCE + body.byteLength);
  return out;
}

/** Opens what seal() made; returns null when it does not authenticate. */
function open(key: Buffer, sealed: Uint8Array, aad: string): Buffer | null {
  if (sealed.byteLength < NONCE + TAG) return null;
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, NONCE), { authTagLength: TAG });
  decipher.setAAD(Buffer.from(aad, 'utf8'));
  decipher.setAuthTag(sealed.subarray(sealed.byteLength - TAG));
  const body = decipher.update(sealed.subarray(NONCE, sealed.byteLength - TAG));
  try {
    decipher.final();
    return body;
  } catch {
    body.fill(0);
    return null;
  }
}

const materialAad = (keyId: string, version: number, algorithm: KeyAlgorithm) =>
  `keyward-local-key\0${keyId}\0${version}\0${algorithm}`;
const dekAad = (keyId: string, version: number) => `keyward-local-dek\0${keyId}\0${version}`;

/** New key material for one version, from the OS CSPRNG or node:crypto's key generation. */
async function generateMaterial(algorithm: KeyAlgorithm): Promise<Buffer> {
  switch (algorithm) {
    case 'aes-256-gcm':
    case 'hmac-sha256': {
      const bytes = Buffer.allocUnsafeSlow(32);
      randomFillSync(bytes);
      return bytes;
    }
    case 'ed25519':
      return (await generateKeyPairAsync('ed25519')).privateKey.export({ type: 'pkcs8', format: 'der' });
    case 'ecdsa-p256':
      return (await generateKeyPairAsync('ec', { namedCurve: 'P-256' })).privateKey.export({ type: 'pkcs8', format: 'der' });
    case 'rsa-4096':
      return (await generateKeyPairAsync('rsa', { modulusLength: 4096 })).privateKey.export({ type: 'pkcs8', format: 'der' });
  }
}

/** The asymmetricKeyType a signing algorithm's PKCS#8 must carry. */
const KEY_TYPE: Partial<Record<KeyAlgorithm, string>> = { ed25519: 'ed25519', 'ecdsa-p256': 'ec', 'rsa-4096': 'rsa' };

/** Refuses recovered material that could not be this key's (it would not load later). */
function checkMaterial(keyId: string, algorithm: KeyAlgorithm, material: Buffer): void {
  const expected = KEY_TYPE[algorithm];
  let fits: boolean;
  try {
    fits = expected === undefined ? material.byteLength === 32 : createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }).asymmetricKeyType === expected;
  } catch {
    fits = false;
  }
  if (!fits) throw new KeywardError('failed-precondition', `the recovered material is not ${algorithm} key material, as key "${keyId}" is`);
}

/** Refuses a key file that is not the declared key. */
function checkDeclared(file: KeyFile, spec: KeySpec): void {
  if (file.purpose !== spec.purpose || file.algorithm !== spec.algorithm) {
    throw new KeywardError(
      'failed-precondition',
      `local backend: key "${spec.keyId}" exists as ${file.purpose}/${file.algorithm}, but the configuration declares ${spec.purpose}/${spec.algorithm}`,
    );
  }
}

/** A key offline recovery is about to create: no version yet, none primary, written with its first version. */
function recoveredKeyFile(spec: KeySpec): KeyFile {
  return {
    format: 1,
    key_id: spec.keyId,
    purpose: spec.purpose,
    algorithm: spec.algorithm,
    created_by: CREATED_BY_ESCROW_RECOVERY,
    primary_version: 0,
    versions: [],
  };
}

/** Zeroizes a key's unwrapped material and lets its private keys go. */
function wipe(key: LoadedKey): void {
  for (const secret of key.secrets.values()) secret.dispose();
  key.secrets.clear();
  key.privateKeys.clear();
}

function toVersions(file: KeyFile): KeyVersions {
  return {
    primaryVersion: file.primary_version,
    versions: file.versions.map(
      (v): KeyVersionInfo => ({
        version: v.version,
        state: v.state,
        createdAt: new Date(v.created_at),
        ...(v.destroy_at ? { destroyAt: new Date(v.destroy_at) } : {}),
      }),
    ),
  };
}

export class LocalBackend implements KeyBackend {
  readonly kind = 'local';
  readonly name: string;
  readonly #keystoreDir: string;
  readonly #rootKeyFile: string;
  readonly #log: Logger;
  readonly #keys = new Map<string, LoadedKey>();
  #root: SecretBytes | undefined;
  #closed = false;

  constructor(options: LocalBackendOptions) {
    this.name = options.name;
    this.#keystoreDir = options.keystoreDir;
    this.#rootKeyFile = options.rootKeyFile ?? join(options.keystoreDir, 'root.key');
    this.#log = options.logger;
  }

  async open(): Promise<void> {
    this.#root = await loadOrCreateRootKey(this.#keystoreDir, this.#rootKeyFile);
  }

  isReady(): boolean {
    return this.#root !== undefined && !this.#closed;
  }

  async ensureKey(spec: KeySpec): Promise<KeyVersions> {
    const existing = await readKeyFile(this.#keystoreDir, spec.keyId);
    let file: KeyFile;
    if (existing === undefined) {
      file = {
        format: 1,
        key_id: spec.keyId,
        purpose: spec.purpose,
        algorithm: spec.algorithm,
        primary_version: 1,
        versions: [await this.#newVersion(spec.keyId, spec.algorithm, 1)],
      };
      await writeKeyFile(this.#keystoreDir, file);
      this.#log.info({ event: 'key.generated', key_id: spec.keyId, key_version: 1, algorithm: spec.algorithm }, 'key generated');
    } else {
      checkDeclared(existing, spec);
      file = existing;
    }
    this.#keys.set(spec.keyId, this.#loaded(file));
    return existing === undefined ? { ...toVersions(file), generated: true } : toVersions(file);
  }

  async describeKey(keyId: string): Promise<KeyVersions> {
    return toVersions(this.#key(keyId).file);
  }

  async rotateKey(keyId: string): Promise<KeyVersions> {
    const key = this.#key(keyId);
    return this.#serialized(key, async () => {
      const next = Math.max(...key.file.versions.map((v) => v.version)) + 1;
      const version = await this.#newVersion(keyId, key.file.algorithm, next);
      const file: KeyFile = { ...key.file, primary_version: next, versions: [...key.file.versions, version] };
      await writeKeyFile(this.#keystoreDir, file);
      key.file = file;
      this.#load(key, next);
      this.#log.info({ event: 'key.rotated', key_id: keyId, key_version: next }, 'key rotated');
      return toVersions(file);
    });
  }

  async generateDataKey(keyId: string, version: number): Promise<DataKey> {
    const kek = this.#secret(keyId, version, 'encrypt');
    const plaintext = SecretBytes.random(DEK_BYTES);
    return { plaintext, wrapped: seal(kek.expose(), plaintext.expose(), dekAad(keyId, version)) };
  }

  async unwrapDataKey(keyId: string, version: number, wrapped: Uint8Array): Promise<SecretBytes> {
    const kek = this.#secret(keyId, version, 'encrypt');
    const dek = open(kek.expose(), wrapped, dekAad(keyId, version));
    if (dek === null || dek.byteLength !== DEK_BYTES) {
      dek?.fill(0);
      throw KeywardError.decryptionFailed(new Error(`local backend: wrapped DEK of ${keyId} v${version} does not authenticate`));
    }
    return SecretBytes.adopt(dek);
  }

  async sign(keyId: string, version: number, scheme: SignatureScheme, input: SignInput): Promise<Buffer> {
    const { algorithm, privateKey } = this.#privateKey(keyId, version);
    if (!SCHEMES_BY_ALGORITHM[algorithm]?.includes(scheme)) {
      throw new KeywardError('failed-precondition', `key "${keyId}" (${algorithm}) cannot sign with ${scheme}`);
    }
    if (!('message' in input)) {
      throw new KeywardError('unimplemented', 'the local backend signs messages, not precomputed digests');
    }
    // The async form runs in libuv's thread pool: RSA-4096 takes milliseconds.
    return signWithKey(scheme === 'ed25519' ? null : 'sha256', input.message, {
      key: privateKey,
      dsaEncoding: 'ieee-p1363',
      ...(scheme === 'rsa-pss-sha256' ? { padding: cryptoConstants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
      ...(scheme === 'rsa-pkcs1-sha256' ? { padding: cryptoConstants.RSA_PKCS1_PADDING } : {}),
    });
  }

  async publicKey(keyId: string, version: number): Promise<KeyObject> {
    return createPublicKey(this.#privateKey(keyId, version).privateKey);
  }

  async mac(keyId: string, version: number, data: Uint8Array): Promise<Buffer> {
    return createHmac('sha256', this.#secret(keyId, version, 'mac').expose()).update(data).digest();
  }

  async exportForEscrow(keyId: string, version: number): Promise<SecretBytes> {
    if (this.#closed) throw new KeywardError('unavailable', 'local backend is closed');
    const { file } = this.#key(keyId);
    const entry = file.versions.find((v) => v.version === version);
    if (entry === undefined) throw new KeywardError('not-found', `key "${keyId}" has no version ${version}`);
    const material = this.#unwrap(file, entry);
    if (material === undefined) throw new KeywardError('failed-precondition', `version ${version} of key "${keyId}" is destroyed: there is nothing to escrow`);
    const copy = SecretBytes.copyOf(material);
    material.fill(0);
    return copy;
  }

  async importFromEscrow(
    keyId: string,
    version: number,
    material: SecretBytes,
    verifyOnly: boolean,
  ): Promise<{ result: EscrowImportResult; versions: KeyVersions }> {
    if (this.#closed) throw new KeywardError('unavailable', 'local backend is closed');
    const key = this.#key(keyId);
    return this.#serialized(key, () => this.#importVersion(key, version, material, { verifyOnly, raisePrimary: false }));
  }

  async recoverFromEscrow(spec: KeySpec, version: number, material: SecretBytes): Promise<{ result: EscrowImportResult; versions: KeyVersions }> {
    if (this.#closed) throw new KeywardError('unavailable', 'local backend is closed');
    const loaded = this.#keys.get(spec.keyId);
    if (loaded !== undefined) checkDeclared(loaded.file, spec);
    const key = loaded ?? (await this.#recoveryTarget(spec));
    const raisePrimary = key.file.created_by === CREATED_BY_ESCROW_RECOVERY;
    try {
      const recovered = await this.#serialized(key, () => this.#importVersion(key, version, material, { verifyOnly: false, raisePrimary }));
      this.#keys.set(spec.keyId, key);
      return recovered;
    } catch (err) {
      if (loaded === undefined) wipe(key);
      throw err;
    }
  }

  async close(): Promise<void> {
    this.#closed = true;
    await Promise.allSettled([...this.#keys.values()].map((k) => k.writes));
    for (const key of this.#keys.values()) wipe(key);
    this.#root?.dispose();
  }

  /** A key file's versions unwrapped into memory. */
  #loaded(file: KeyFile): LoadedKey {
    const key: LoadedKey = { file, secrets: new Map(), privateKeys: new Map(), writes: Promise.resolve() };
    for (const v of file.versions) this.#load(key, v.version);
    return key;
  }

  /** The declared key as its file holds it, or a new one that recovery creates (not yet known to the backend). */
  async #recoveryTarget(spec: KeySpec): Promise<LoadedKey> {
    const existing = await readKeyFile(this.#keystoreDir, spec.keyId);
    if (existing !== undefined) checkDeclared(existing, spec);
    return this.#loaded(existing ?? recoveredKeyFile(spec));
  }

  /** Runs a rewrite of the key's file after the ones before it: each rewrites it from key.file. */
  #serialized<T>(key: LoadedKey, write: () => Promise<T>): Promise<T> {
    const done = key.writes.then(write);
    key.writes = done.catch(() => undefined);
    return done;
  }

  #key(keyId: string): LoadedKey {
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new KeywardError('not-found', `key "${keyId}" not found`);
    return key;
  }

  /** A loaded version of a key of `purpose`, or the error a caller should see. */
  #version(keyId: string, version: number, purpose: KeyPurpose): LoadedKey {
    if (this.#closed) throw new KeywardError('unavailable', 'local backend is closed');
    const key = this.#key(keyId);
    if (key.file.purpose !== purpose) {
      throw new KeywardError('failed-precondition', `key "${keyId}" is a ${key.file.purpose} key, not a ${purpose} key`);
    }
    if (!key.secrets.has(version) && !key.privateKeys.has(version)) {
      throw new KeywardError('not-found', `key "${keyId}" has no usable version ${version}`);
    }
    return key;
  }

  #secret(keyId: string, version: number, purpose: 'encrypt' | 'mac'): SecretBytes {
    return this.#version(keyId, version, purpose).secrets.get(version)!;
  }

  #privateKey(keyId: string, version: number): { algorithm: KeyAlgorithm; privateKey: KeyObject } {
    const key = this.#version(keyId, version, 'sign');
    return { algorithm: key.file.algorithm, privateKey: key.privateKeys.get(version)! };
  }

  async #newVersion(keyId: string, algorithm: KeyAlgorithm, version: number): Promise<KeyFile['versions'][number]> {
    const material = await generateMaterial(algorithm);
    try {
      const wrapped = seal(this.#rootKey(), material, materialAad(keyId, version, algorithm));
      return { version, state: 'enabled', created_at: new Date().toISOString(), material: wrapped.toString('base64') };
    } finally {
      material.fill(0);
    }
  }

  #rootKey(): Buffer {
    if (this.#root === undefined) throw new KeywardError('unavailable', 'local backend is not open');
    return this.#root.expose();
  }

  /**
   * Compares with an existing version ('verified'), or adds the missing one ('imported');
   * `raisePrimary`: the added version becomes primary when it is the highest.
   */
  async #importVersion(
    key: LoadedKey,
    version: number,
    material: SecretBytes,
    how: { readonly verifyOnly: boolean; readonly raisePrimary: boolean },
  ): Promise<{ result: EscrowImportResult; versions: KeyVersions }> {
    const { file } = key;
    const keyId = file.key_id;
    checkMaterial(keyId, file.algorithm, material.expose());
    const entry = file.versions.find((v) => v.version === version);
    if (entry !== undefined) {
      const existing = this.#unwrap(file, entry);
      if (existing === undefined) throw new KeywardError('failed-precondition', `version ${version} of key "${keyId}" was destroyed; a recovery does not undo a destruction`);
      const equal = existing.byteLength === material.length && timingSafeEqual(existing, material.expose());
      existing.fill(0);
      if (!equal) throw new KeywardError('already-exists', `version ${version} of key "${keyId}" exists and holds other key material than the escrow`);
      return { result: 'verified', versions: toVersions(file) };
    }
    if (how.verifyOnly) {
      throw new KeywardError('not-found', `key "${keyId}" has no version ${version} to verify the escrow against (combine without verify_only to import it)`);
    }
    const wrapped = seal(this.#rootKey(), material.expose(), materialAad(keyId, version, file.algorithm));
    const added = { version, state: 'enabled' as const, created_at: new Date().toISOString(), material: wrapped.toString('base64') };
    const next: KeyFile = {
      ...file,
      primary_version: how.raisePrimary ? Math.max(file.primary_version, version) : file.primary_version,
      versions: [...file.versions, added].sort((a, b) => a.version - b.version),
    };
    await writeKeyFile(this.#keystoreDir, next);
    key.file = next;
    this.#load(key, version);
    this.#log.info({ event: 'key.version_imported', key_id: keyId, key_version: version }, 'key version imported from escrow');
    return { result: 'imported', versions: toVersions(next) };
  }

  /** A version's material unwrapped from its key file entry (the caller wipes it); undefined once destroyed. */
  #unwrap(file: KeyFile, entry: KeyFile['versions'][number]): Buffer | undefined {
    if (entry.material === undefined || entry.state === 'destroyed') return undefined;
    const material = open(this.#rootKey(), Buffer.from(entry.material, 'base64'), materialAad(file.key_id, entry.version, file.algorithm));
    if (material === null) {
      throw new KeywardError(
        'failed-precondition',
        `local backend: version ${entry.version} of key "${file.key_id}" does not unwrap under the root key (wrong root key file?)`,
      );
    }
    return material;
  }

  /** Unwraps one version's material into memory, unless it was destroyed. */
  #load(key: LoadedKey, version: number): void {
    const { file } = key;
    const entry = file.versions.find((v) => v.version === version);
    const material = entry && this.#unwrap(file, entry);
    if (material === undefined) return;
    if (file.purpose === 'sign') {
      key.privateKeys.set(version, createPrivateKey({ key: material, format: 'der', type: 'pkcs8' }));
      material.fill(0);
    } else {
      key.secrets.set(version, SecretBytes.adopt(material));
    }
  }
}
