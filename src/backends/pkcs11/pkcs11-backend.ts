// The `pkcs11` backend: KEKs, signing keys and MAC keys generated and kept inside a
// PKCS#11 token (an HSM; SoftHSM2 in tests), as policy §3.2 and §3.4 require for
// Restricted data. Nothing secret leaves the token but DEKs: a DEK comes from the
// token's RNG and is sealed under the KEK with CKM_AES_GCM (C_Encrypt), the key id and
// version bound as associated data; Decrypt sends the wrapped DEK back through C_Decrypt.
// Every token call that can take milliseconds runs on libuv's thread pool (pkcs11js's
// *Async calls), one operation per leased session. docs/hsm.md explains the choices.
import { createHash, type KeyObject } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import type { DataKey, KeyBackend, SignatureScheme, SignInput } from '../../core/key-backend.js';
import {
  ALGORITHMS_BY_PURPOSE,
  SCHEMES_BY_ALGORITHM,
  type KeyAlgorithm,
  type KeyPurpose,
  type KeySpec,
  type KeyVersions,
} from '../../core/key-types.js';
import { noopBackendTracer, type BackendTracer } from '../../core/backend-tracer.js';
import { KeywardError } from '../../core/keyward-error.js';
import type { Logger } from '../../core/logger.js';
import { SecretBytes } from '../../core/secret-bytes.js';
import { decodeUlong, inspectPrivateKey, inspectSecretKey, type InspectedKey } from './key-inspection.js';
import { KeyObjectNaming } from './key-object-naming.js';
import { keyTemplate, RSA_MODULUS_BITS } from './key-templates.js';
import { describePinSource, readPin, type PinSource } from './pin-source.js';
import { CKM_EDDSA, SHA256_BYTES, SHA256_DIGEST_INFO_PREFIX } from './pkcs11-constants.js';
import { ckrCode, ckrName, pkcs11ErrorKind } from './pkcs11-errors.js';
import { Pkcs11Module } from './pkcs11-module.js';
import { formatPkcs11Uri } from './pkcs11-uri.js';
import { readPublicKey } from './public-key-codec.js';
import { ReconnectBackoff } from './reconnect-backoff.js';
import { SessionPool, type PoolTimers } from './session-pool.js';
import { TokenSelection, type FoundToken } from './token-selection.js';
import { DEK_BYTES, GCM_IV_BYTES, GCM_TAG_BYTES, WRAPPED_DEK_BYTES, WRAP_FORMAT_GCM, gcmMechanism, parseWrappedDek, wrappedDekAad } from './wrapped-dek.js';

type Handle = pkcs11js.Handle;
const p = pkcs11js;

/** Debian's (and Ubuntu's) SoftHSM2 module. */
export const DEFAULT_PKCS11_MODULE = '/usr/lib/softhsm/libsofthsm2.so';
export const DEFAULT_KEY_PREFIX = 'keyward';
export const DEFAULT_SESSIONS = 4;

export interface Pkcs11BackendOptions {
  readonly name: string;
  readonly logger: Logger;
  /** Child spans of the calling RPC, one per token operation. */
  readonly tracer?: BackendTracer;
  /** The PKCS#11 library. Default: the token URI's module-path, else DEFAULT_PKCS11_MODULE. */
  readonly modulePath?: string;
  /** The token's label, or a `pkcs11:` URI naming it. Exactly one of token and slotId. */
  readonly token?: string;
  readonly slotId?: number;
  /** Where the user PIN is read from. */
  readonly pin: PinSource;
  /** Objects are labelled `<keyPrefix>/<key id>/v<N>`. */
  readonly keyPrefix?: string;
  /** Whether ensureKey generates a key that is missing (else start fails). */
  readonly createMissingKeys?: boolean;
  /** Logged-in sessions kept open; at most this many operations run at once. */
  readonly sessions?: number;
  /** How long a call waits for a free session before `unavailable` (default 10 s). */
  readonly sessionWaitMs?: number;
  /** Delays between attempts to reopen a lost token. */
  readonly reconnect?: { readonly initialMs: number; readonly maxMs: number; readonly jitter?: () => number };
  /** Injectable timers (tests). */
  readonly timers?: PoolTimers;
  /** Where `pin: { env }` is looked up. Default: process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** The objects of one version within one module generation. */
interface VersionObjects {
  readonly generation: number;
  /** The secret key (KEK, MAC key) or the private key. */
  readonly key: Handle;
  readonly publicKey?: Handle;
}

interface HsmVersion {
  readonly version: number;
  readonly createdAt: Date;
  /** RSA: signature length. */
  readonly modulusBytes?: number;
  objects?: VersionObjects;
  publicKeyObject?: KeyObject;
}

interface HsmKey {
  readonly keyId: string;
  readonly purpose: KeyPurpose;
  readonly algorithm: KeyAlgorithm;
  readonly versions: Map<number, HsmVersion>;
}

/** The objects labelled as one version, by class. */
interface FoundObjects {
  secret: Handle[];
  private: Handle[];
  public: Handle[];
  /** CKA_IDs (hex) of objects with the version's label but another CKA_ID. */
  wrongIds: string[];
}

const noObjects = (): FoundObjects => ({ secret: [], private: [], public: [], wrongIds: [] });

/**
 * Errors raised for an object handle that went stale while the token answers (the object
 * was destroyed, or re-created under a new handle): operations on a key version look the
 * object up again once before they give up.
 */
const staleHandleErrors = new WeakSet<KeywardError>();

function purposeOf(algorithm: KeyAlgorithm): KeyPurpose {
  for (const [purpose, algorithms] of Object.entries(ALGORITHMS_BY_PURPOSE)) {
    if (algorithms.includes(algorithm)) return purpose as KeyPurpose;
  }
  throw new Error(`no purpose for ${algorithm}`);
}

export class Pkcs11Backend implements KeyBackend {
  readonly kind = 'pkcs11';
  readonly name: string;
  readonly #o: Pkcs11BackendOptions;
  readonly #log: Logger;
  readonly #naming: KeyObjectNaming;
  readonly #createMissing: boolean;
  readonly #keys = new Map<string, HsmKey>();
  /** Serializes generation and rotation per key id. */
  readonly #chains = new Map<string, Promise<unknown>>();
  #module: Pkcs11Module | undefined;
  #pool: SessionPool | undefined;
  #pin: SecretBytes | undefined;
  #token: FoundToken | undefined;
  #opened = false;
  #closed = false;

  constructor(options: Pkcs11BackendOptions) {
    this.name = options.name;
    this.#o = options;
    this.#log = options.logger;
    this.#naming = new KeyObjectNaming(options.keyPrefix ?? DEFAULT_KEY_PREFIX);
    this.#createMissing = options.createMissingKeys ?? false;
  }

  /** `token "label"`, for messages. */
  get #tokenName(): string {
    return this.#token !== undefined ? `token "${this.#token.label}"` : 'the token';
  }

  async open(): Promise<void> {
    if (this.#opened || this.#closed) throw new KeywardError('failed-precondition', `pkcs11 backend "${this.name}" was already opened`);
    this.#opened = true;
    try {
      await this.#open();
    } catch (err) {
      await this.#pool?.close().catch(() => undefined);
      this.#pool = undefined;
      await this.#module?.release().catch(() => undefined);
      this.#module = undefined;
      this.#pin?.dispose();
      this.#pin = undefined;
      const e = err instanceof KeywardError ? err : new KeywardError('unavailable', ckrName(err), { cause: err });
      throw new KeywardError(e.code, `pkcs11 backend "${this.name}": ${e.message}`, { cause: e.cause ?? err });
    }
  }

  async #open(): Promise<void> {
    const selection = TokenSelection.from(this.#o.token, this.#o.slotId);
    const configured = this.#o.modulePath;
    if (configured !== undefined && selection.modulePath !== undefined && configured !== selection.modulePath) {
      throw new KeywardError(
        'failed-precondition',
        `the token URI names module-path ${selection.modulePath} but "module" is ${configured}; give the module once`,
      );
    }
    const modulePath = configured ?? selection.modulePath ?? DEFAULT_PKCS11_MODULE;
    this.#pin = readPin(this.#o.pin, this.#o.env);
    const module = await Pkcs11Module.acquire(modulePath);
    this.#module = module;
    this.#token = selection.find(module.api, modulePath);
    const reconnect = this.#o.reconnect ?? { initialMs: 250, maxMs: 30_000 };
    const pool = new SessionPool({
      module,
      size: this.#o.sessions ?? DEFAULT_SESSIONS,
      tokenName: `token "${this.#token.label}"`,
      findSlot: () => {
        this.#token = selection.find(module.api, modulePath);
        return this.#token.slot;
      },
      login: (session, slot) => this.#login(session, slot),
      backoff: new ReconnectBackoff({ initialMs: reconnect.initialMs, maxMs: reconnect.maxMs, ...(reconnect.jitter ? { jitter: reconnect.jitter } : {}) }),
      logger: this.#log,
      ...(this.#o.timers ? { timers: this.#o.timers } : {}),
      ...(this.#o.sessionWaitMs !== undefined ? { maxWaitMs: this.#o.sessionWaitMs } : {}),
      onReconnected: () => {
        for (const key of this.#keys.values()) for (const v of key.versions.values()) v.objects = undefined;
      },
    });
    pool.open();
    this.#pool = pool;
    this.#log.info(
      { event: 'pkcs11.opened', module: modulePath, token: this.#token.label, serial: this.#token.serial, slot: this.#token.slotId, sessions: this.#o.sessions ?? DEFAULT_SESSIONS },
      `pkcs11 backend "${this.name}" logged in to token "${this.#token.label}"`,
    );
  }

  /** C_Login with the PIN; the message names where the PIN came from, never the PIN. */
  #login(session: Handle, slot: Handle): void {
    const module = this.#module!;
    const pin = this.#pin;
    if (pin === undefined || pin.disposed) throw new KeywardError('unavailable', `pkcs11 backend "${this.name}" is closed`);
    const tokenKey = slot.toString('hex');
    const tokenName = `token "${this.#token?.label ?? '?'}"`;
    try {
      module.api.C_Login(session, p.CKU_USER, pin.expose().toString('utf8'));
      module.checkLogin(tokenKey, pin.expose(), false);
    } catch (err) {
      if (ckrCode(err) === p.CKR_USER_ALREADY_LOGGED_IN) {
        if (module.checkLogin(tokenKey, pin.expose(), true)) return;
        throw new KeywardError(
          'failed-precondition',
          `login to ${tokenName} failed: this process is already logged in to it with a different PIN than ${describePinSource(this.#o.pin)}`,
        );
      }
      throw new KeywardError(
        pkcs11ErrorKind(err) === 'token' ? 'unavailable' : 'failed-precondition',
        `login to ${tokenName} failed: ${ckrName(err)} (PIN from ${describePinSource(this.#o.pin)})`,
        { cause: err },
      );
    }
  }

  isReady(): boolean {
    return this.#opened && !this.#closed && this.#pool !== undefined && this.#pool.ready;
  }

  async ensureKey(spec: KeySpec): Promise<KeyVersions> {
    this.#checkOpen();
    return this.#serialize(spec.keyId, async () => {
      const found = await this.#scan(spec.keyId);
      const known = this.#keys.get(spec.keyId);
      const key: HsmKey = { keyId: spec.keyId, purpose: spec.purpose, algorithm: spec.algorithm, versions: new Map() };
      const generated = found.size === 0;
      if (found.size === 0) {
        if (!this.#createMissing) {
          throw new KeywardError(
            'failed-precondition',
            `pkcs11 backend "${this.name}": key "${spec.keyId}" does not exist on ${this.#tokenName} (looked for objects labelled "${this.#naming.pattern(spec.keyId)}", e.g. ${this.#objectUri(spec.keyId, 1)}) and create_missing_keys is false; create it or allow creation`,
          );
        }
        key.versions.set(1, await this.#generate(spec.keyId, spec.algorithm, 1));
        this.#log.info(
          { event: 'key.generated', key_id: spec.keyId, key_version: 1, algorithm: spec.algorithm, object: this.#objectUri(spec.keyId, 1) },
          'key generated in the HSM',
        );
      } else {
        for (const [version, objects] of [...found.entries()].sort((a, b) => a[0] - b[0])) {
          key.versions.set(version, await this.#adopt(spec.keyId, spec.algorithm, version, objects, known?.versions.get(version)));
        }
      }
      this.#keys.set(spec.keyId, key);
      return generated ? { ...this.#versionsOf(key), generated: true } : this.#versionsOf(key);
    });
  }

  async describeKey(keyId: string): Promise<KeyVersions> {
    return this.#versionsOf(this.#knownKey(keyId));
  }

  async rotateKey(keyId: string): Promise<KeyVersions> {
    this.#checkOpen();
    const key = this.#knownKey(keyId);
    return this.#serialize(keyId, async () => {
      // Learn versions another process may have made, so a number is never reused.
      const found = await this.#scan(keyId);
      for (const [version, objects] of found) {
        if (!key.versions.has(version)) key.versions.set(version, await this.#adopt(keyId, key.algorithm, version, objects, undefined));
      }
      const next = Math.max(0, ...key.versions.keys(), ...found.keys()) + 1;
      key.versions.set(next, await this.#generate(keyId, key.algorithm, next));
      this.#log.info(
        { event: 'key.rotated', key_id: keyId, key_version: next, algorithm: key.algorithm, object: this.#objectUri(keyId, next) },
        'key rotated in the HSM',
      );
      return this.#versionsOf(key);
    });
  }

  async generateDataKey(keyId: string, version: number): Promise<DataKey> {
    return this.#operate('wrap a DEK', keyId, version, 'encrypt', async (api, session, v) => {
      const dek = Buffer.allocUnsafeSlow(DEK_BYTES);
      try {
        api.C_GenerateRandom(session, dek);
        const wrapped = Buffer.alloc(WRAPPED_DEK_BYTES);
        wrapped[0] = WRAP_FORMAT_GCM;
        const iv = api.C_GenerateRandom(session, Buffer.alloc(GCM_IV_BYTES));
        iv.copy(wrapped, 1);
        api.C_EncryptInit(session, gcmMechanism(iv, wrappedDekAad(keyId, version)), v.key);
        const sealed = await api.C_EncryptAsync(session, dek, wrapped.subarray(1 + GCM_IV_BYTES));
        if (sealed.length !== DEK_BYTES + GCM_TAG_BYTES) {
          throw new KeywardError('internal', `the token sealed a DEK into ${sealed.length} bytes, expected ${DEK_BYTES + GCM_TAG_BYTES}`);
        }
        return { plaintext: SecretBytes.adopt(dek), wrapped };
      } catch (err) {
        dek.fill(0);
        throw err;
      }
    });
  }

  async unwrapDataKey(keyId: string, version: number, wrapped: Uint8Array): Promise<SecretBytes> {
    this.#usableKey(keyId, 'encrypt');
    const parts = parseWrappedDek(wrapped);
    if (parts === undefined) {
      throw KeywardError.decryptionFailed(new Error(`wrapped DEK of ${keyId} v${version} is not a ${WRAPPED_DEK_BYTES}-byte format-${WRAP_FORMAT_GCM} blob`));
    }
    return this.#operate(
      'unwrap a DEK',
      keyId,
      version,
      'encrypt',
      async (api, session, v) => {
        const out = Buffer.allocUnsafeSlow(DEK_BYTES + GCM_TAG_BYTES);
        try {
          api.C_DecryptInit(session, gcmMechanism(parts.iv, wrappedDekAad(keyId, version)), v.key);
          const dek = await api.C_DecryptAsync(session, parts.sealed, out);
          if (dek.length !== DEK_BYTES) throw KeywardError.decryptionFailed(new Error(`unwrapped ${dek.length} bytes, expected ${DEK_BYTES}`));
          return SecretBytes.copyOf(dek);
        } finally {
          out.fill(0);
        }
      },
      (err) => KeywardError.decryptionFailed(err),
    );
  }

  async sign(keyId: string, version: number, scheme: SignatureScheme, input: SignInput): Promise<Buffer> {
    const key = this.#usableKey(keyId, 'sign');
    if (!SCHEMES_BY_ALGORITHM[key.algorithm]?.includes(scheme)) {
      throw new KeywardError('failed-precondition', `key "${keyId}" (${key.algorithm}) cannot sign with ${scheme}`);
    }
    const { mechanism, data } = signRequest(scheme, input);
    return this.#operate(`sign with ${scheme}`, keyId, version, 'sign', async (api, session, v, info) => {
      api.C_SignInit(session, mechanism, v.key);
      const out = Buffer.alloc(info.modulusBytes ?? 64);
      return await api.C_SignAsync(session, data, out);
    });
  }

  /** Verifies a signature over a SHA-256 digest in the token, with the version's public key. */
  async verifyDigest(keyId: string, version: number, scheme: SignatureScheme, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const key = this.#usableKey(keyId, 'sign');
    if (!SCHEMES_BY_ALGORITHM[key.algorithm]?.includes(scheme)) {
      throw new KeywardError('failed-precondition', `key "${keyId}" (${key.algorithm}) cannot verify ${scheme}`);
    }
    const { mechanism, data } = signRequest(scheme, { digest });
    return this.#operate(`verify with ${scheme}`, keyId, version, 'sign', async (api, session, v) => {
      api.C_VerifyInit(session, mechanism, v.publicKey!);
      try {
        return await api.C_VerifyAsync(session, data, Buffer.from(signature));
      } catch (err) {
        // A bad signature is an answer, not a failure (C_Verify ends the operation).
        const code = ckrCode(err);
        if (code === p.CKR_SIGNATURE_INVALID || code === p.CKR_SIGNATURE_LEN_RANGE) return false;
        throw err;
      }
    });
  }

  async publicKey(keyId: string, version: number): Promise<KeyObject> {
    const key = this.#usableKey(keyId, 'sign');
    const cached = key.versions.get(version)?.publicKeyObject;
    if (cached !== undefined) return cached;
    return this.#operate('read a public key', keyId, version, 'sign', async (api, session, v, info) => {
      info.publicKeyObject ??= readPublicKey(api, session, v.publicKey!, key.algorithm);
      return info.publicKeyObject;
    });
  }

  async mac(keyId: string, version: number, data: Uint8Array): Promise<Buffer> {
    const input = Buffer.from(data);
    return this.#operate('compute a MAC', keyId, version, 'mac', async (api, session, v) => {
      api.C_SignInit(session, { mechanism: p.CKM_SHA256_HMAC }, v.key);
      return await api.C_SignAsync(session, input, Buffer.alloc(SHA256_BYTES));
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.allSettled([...this.#chains.values()]);
    await this.#pool?.close();
    await this.#module?.release();
    this.#pin?.dispose();
    for (const key of this.#keys.values()) {
      for (const v of key.versions.values()) {
        v.objects = undefined;
        v.publicKeyObject = undefined;
      }
    }
    this.#log.info({ event: 'pkcs11.closed' }, `pkcs11 backend "${this.name}" closed`);
  }

  // ---- internals ----

  #checkOpen(): void {
    if (this.#closed) throw new KeywardError('unavailable', `pkcs11 backend "${this.name}" is closed`);
    if (this.#pool === undefined) throw new KeywardError('unavailable', `pkcs11 backend "${this.name}" is not open`);
  }

  #knownKey(keyId: string): HsmKey {
    const key = this.#keys.get(keyId);
    if (key === undefined) throw new KeywardError('not-found', `key "${keyId}" not found`);
    return key;
  }

  /** A key that may serve an operation of `purpose`, or the error a caller should see. */
  #usableKey(keyId: string, purpose: KeyPurpose): HsmKey {
    this.#checkOpen();
    const key = this.#knownKey(keyId);
    if (key.purpose !== purpose) {
      throw new KeywardError('failed-precondition', `key "${keyId}" is a ${key.purpose} key, not a ${purpose} key`);
    }
    return key;
  }

  #serialize<T>(keyId: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.#chains.get(keyId) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const settled = next.catch(() => undefined);
    this.#chains.set(keyId, settled);
    void settled.then(() => {
      if (this.#chains.get(keyId) === settled) this.#chains.delete(keyId);
    });
    return next;
  }

  #objectUri(keyId: string, version: number): string {
    return formatPkcs11Uri({ token: this.#token?.label, object: this.#naming.label(keyId, version) });
  }

  /** A search found nothing and the token does not answer: an outage, reported to the pool. */
  #lost(): KeywardError {
    const cause = new Error('a search found nothing and C_GetTokenInfo fails');
    this.#pool!.fault(cause);
    return this.#unavailable(cause);
  }

  #unavailable(err: unknown): KeywardError {
    return new KeywardError('unavailable', `${this.#tokenName} is unreachable (${ckrName(err)}); reconnecting`, { cause: err });
  }

  /**
   * Runs `fn` with a leased session and what a caller's error should be. PKCS#11 errors
   * are sorted: a lost token is `unavailable` (and the pool reconnects); an ambiguous
   * code is settled by probing the token; a data error becomes `badData(err)`.
   */
  async #withSession<T>(what: string, fn: (api: pkcs11js.PKCS11, session: Handle) => Promise<T>, badData?: (err: unknown) => KeywardError): Promise<T> {
    this.#checkOpen();
    const pool = this.#pool!;
    const api = this.#module!.api;
    try {
      return await pool.use((session) => fn(api, session));
    } catch (err) {
      if (err instanceof KeywardError) throw err;
      switch (pkcs11ErrorKind(err)) {
        case 'token':
          pool.fault(err);
          throw this.#unavailable(err);
        case 'ambiguous':
          if (!pool.probe()) {
            pool.fault(err);
            throw this.#unavailable(err);
          }
          if (ckrCode(err) === p.CKR_OBJECT_HANDLE_INVALID || ckrCode(err) === p.CKR_KEY_HANDLE_INVALID) {
            const stale = new KeywardError('not-found', `${this.#tokenName} no longer has an object this call used (${ckrName(err)}) to ${what}`, { cause: err });
            staleHandleErrors.add(stale);
            throw stale;
          }
          if (badData !== undefined) throw badData(err);
          break;
        case 'bad-data':
          if (badData !== undefined) throw badData(err);
          break;
        case 'not-permitted':
          throw new KeywardError('failed-precondition', `${this.#tokenName} refused to ${what}: ${ckrName(err)}`, { cause: err });
        default:
          break;
      }
      throw new KeywardError('internal', `${this.#tokenName} failed to ${what}: ${ckrName(err)}`, { cause: err });
    }
  }

  /**
   * An operation on a version of a key: checks the key and purpose, finds the version's
   * objects (by label, once per module generation) and runs `fn`. A stale object handle
   * is looked up again once; a version that is gone is `not-found`.
   */
  async #operate<T>(
    what: string,
    keyId: string,
    version: number,
    purpose: KeyPurpose,
    fn: (api: pkcs11js.PKCS11, session: Handle, objects: VersionObjects, info: HsmVersion) => Promise<T>,
    badData?: (err: unknown) => KeywardError,
  ): Promise<T> {
    const key = this.#usableKey(keyId, purpose);
    const attributes = { 'keyward.backend': this.name, 'keyward.backend.operation': what, 'keyward.key.id': keyId, 'keyward.key.version': version };
    return (this.#o.tracer ?? noopBackendTracer).run('pkcs11.operation', attributes, async () => {
      for (let attempt = 0; ; attempt++) {
        let info: HsmVersion | undefined;
        try {
          return await this.#withSession(
            what,
            async (api, session) => {
              info = await this.#resolve(api, session, key, version);
              return fn(api, session, info.objects!, info);
            },
            badData,
          );
        } catch (err) {
          if (!(err instanceof KeywardError) || !staleHandleErrors.has(err)) throw err;
          if (info !== undefined) info.objects = undefined;
          if (attempt > 0) throw this.#versionGone(key, version);
        }
      }
    });
  }

  #versionGone(key: HsmKey, version: number): KeywardError {
    return new KeywardError(
      'not-found',
      `version ${version} of key "${key.keyId}" does not exist on ${this.#tokenName} (no object labelled "${this.#naming.label(key.keyId, version)}")`,
    );
  }

  /** The version's objects in this module generation (looked up by label when needed). */
  async #resolve(api: pkcs11js.PKCS11, session: Handle, key: HsmKey, version: number): Promise<HsmVersion> {
    const generation = this.#pool!.generation;
    let info = key.versions.get(version);
    if (info?.objects !== undefined && info.objects.generation === generation) return info;
    const found = await this.#findVersion(api, session, key.keyId, version);
    if (found.secret.length + found.private.length + found.public.length === 0) {
      // A token that lost its storage finds nothing: that is an outage, not a missing key.
      if (!this.#pool!.probe()) throw this.#lost();
      throw this.#versionGone(key, version);
    }
    if (info === undefined) {
      // A version made by another process since we scanned: check it like any other.
      const inspected = this.#check(api, session, key.keyId, key.algorithm, version, found);
      info = { version, createdAt: new Date(), ...(inspected.modulusBytes ? { modulusBytes: inspected.modulusBytes } : {}) };
      key.versions.set(version, info);
    }
    info.objects = this.#objectsOf(key.algorithm, found, generation);
    return info;
  }

  #objectsOf(algorithm: KeyAlgorithm, found: FoundObjects, generation: number): VersionObjects {
    if (purposeOf(algorithm) === 'sign') return { generation, key: found.private[0]!, publicKey: found.public[0]! };
    return { generation, key: found.secret[0]! };
  }

  /** Every token object labelled as a version of `keyId`, by version. */
  async #scan(keyId: string): Promise<Map<number, FoundObjects>> {
    const result = await this.#withSession('list key objects', async (api, session) => {
      const byVersion = new Map<number, FoundObjects>();
      for (const handle of await this.#findAll(api, session, [{ type: p.CKA_TOKEN, value: true }])) {
        const [cls, labelAttr] = api.C_GetAttributeValue(session, handle, [{ type: p.CKA_CLASS }, { type: p.CKA_LABEL }]);
        const parsed = this.#naming.parse(labelAttr?.value?.toString('utf8') ?? '');
        if (parsed === undefined || parsed.keyId !== keyId) continue;
        let objects = byVersion.get(parsed.version);
        if (objects === undefined) byVersion.set(parsed.version, (objects = noObjects()));
        const [id] = api.C_GetAttributeValue(session, handle, [{ type: p.CKA_ID }]);
        if (id?.value?.equals(this.#naming.id(keyId, parsed.version)) === true) addByClass(objects, decodeUlong(cls?.value), handle);
        else objects.wrongIds.push(id?.value?.toString('hex') ?? '');
      }
      return byVersion;
    });
    if (result.size === 0 && !this.#pool!.probe()) throw this.#lost();
    return result;
  }

  /** The objects of one version: CKA_LABEL and CKA_ID both match. */
  async #findVersion(api: pkcs11js.PKCS11, session: Handle, keyId: string, version: number): Promise<FoundObjects> {
    const objects = noObjects();
    for (const handle of await this.#findAll(api, session, [
      { type: p.CKA_TOKEN, value: true },
      { type: p.CKA_LABEL, value: this.#naming.label(keyId, version) },
      { type: p.CKA_ID, value: this.#naming.id(keyId, version) },
    ])) {
      const [cls] = api.C_GetAttributeValue(session, handle, [{ type: p.CKA_CLASS }]);
      addByClass(objects, decodeUlong(cls?.value), handle);
    }
    return objects;
  }

  async #findAll(api: pkcs11js.PKCS11, session: Handle, template: pkcs11js.Template): Promise<Handle[]> {
    // No await between this and the search: creations must not start in between.
    await this.#module!.beforeSearch();
    api.C_FindObjectsInit(session, template);
    try {
      const all: Handle[] = [];
      for (;;) {
        const batch = api.C_FindObjects(session, 256);
        all.push(...batch);
        if (batch.length < 256) return all;
      }
    } finally {
      api.C_FindObjectsFinal(session);
    }
  }

  /** Checks an existing version against the declared algorithm and the key policy. */
  async #adopt(keyId: string, algorithm: KeyAlgorithm, version: number, found: FoundObjects, known: HsmVersion | undefined): Promise<HsmVersion> {
    return this.#withSession('inspect a key object', async (api, session) => {
      const inspected = this.#check(api, session, keyId, algorithm, version, found);
      const generation = this.#pool!.generation;
      return {
        version,
        createdAt: known?.createdAt ?? new Date(),
        ...(inspected.modulusBytes ? { modulusBytes: inspected.modulusBytes } : {}),
        objects: this.#objectsOf(algorithm, found, generation),
        ...(known?.publicKeyObject ? { publicKeyObject: known.publicKeyObject } : {}),
      };
    });
  }

  #check(api: pkcs11js.PKCS11, session: Handle, keyId: string, algorithm: KeyAlgorithm, version: number, found: FoundObjects): InspectedKey {
    const label = this.#naming.label(keyId, version);
    const where = `object "${label}" on ${this.#tokenName}`;
    const declared = `${purposeOf(algorithm)}/${algorithm}`;
    const fail = (why: string) => new KeywardError('failed-precondition', `pkcs11 backend "${this.name}": key "${keyId}": ${why}`);
    if (found.wrongIds.length > 0) {
      throw fail(`${where} has CKA_ID ${found.wrongIds.join(', ')} (hex), not the label's bytes ${this.#naming.id(keyId, version).toString('hex')}`);
    }
    for (const [kind, handles] of [
      ['secret', found.secret],
      ['private', found.private],
      ['public', found.public],
    ] as const) {
      if (handles.length > 1) throw fail(`${handles.length} ${kind} key objects are labelled "${label}" on ${this.#tokenName}; keyward cannot tell which is version ${version}`);
    }
    const inspected =
      found.private[0] !== undefined
        ? inspectPrivateKey(api, session, found.private[0])
        : found.secret[0] !== undefined
          ? inspectSecretKey(api, session, found.secret[0])
          : undefined;
    if (inspected === undefined) throw fail(`${where} is only a public key; its private key is missing`);
    if (inspected.algorithm !== algorithm) {
      const actual = inspected.algorithm === undefined ? inspected.description : `${purposeOf(inspected.algorithm)}/${inspected.algorithm} (${inspected.description})`;
      throw fail(`version ${version} exists as ${actual} (${where}), but the configuration declares ${declared}`);
    }
    if (purposeOf(algorithm) === 'sign' && found.public[0] === undefined) {
      throw fail(`${where} has no public key object with the same label`);
    }
    if (inspected.problems.length > 0) {
      throw fail(`${where} does not meet the key policy: ${inspected.problems.join(', ')} (keyward uses only sensitive, non-extractable keys that allow their one use, policy §3.4)`);
    }
    if (inspected.extraUses.length > 0) {
      this.#log.warn(
        { event: 'pkcs11.key_permissive', key_id: keyId, key_version: version, object: this.#objectUri(keyId, version), extra_uses: inspected.extraUses },
        `${where} also allows ${inspected.extraUses.join(', ')}, which keyward never uses (policy §3.5: least privilege); consider re-creating it without`,
      );
    }
    return inspected;
  }

  /** Generates a version inside the token (off the event loop: RSA-4096 takes a while). */
  async #generate(keyId: string, algorithm: KeyAlgorithm, version: number): Promise<HsmVersion> {
    const label = this.#naming.label(keyId, version);
    const now = new Date();
    const template = keyTemplate(algorithm, label, this.#naming.id(keyId, version), now);
    return this.#withSession(`generate ${algorithm} key ${label}`, async (api, session) => {
      const generation = this.#pool!.generation;
      const module = this.#module!;
      if (template.kind === 'secret') {
        const key = await module.creatingObjects(() => api.C_GenerateKeyAsync(session, template.mechanism, template.template));
        return { version, createdAt: now, objects: { generation, key } };
      }
      const pair = await module.creatingObjects(() =>
        api.C_GenerateKeyPairAsync(session, template.mechanism, template.publicTemplate, template.privateTemplate),
      );
      return {
        version,
        createdAt: now,
        ...(algorithm === 'rsa-4096' ? { modulusBytes: RSA_MODULUS_BITS / 8 } : {}),
        objects: { generation, key: pair.privateKey, publicKey: pair.publicKey },
      };
    });
  }

  #versionsOf(key: HsmKey): KeyVersions {
    const versions = [...key.versions.values()].sort((a, b) => a.version - b.version);
    return {
      primaryVersion: versions.length > 0 ? versions[versions.length - 1]!.version : 0,
      versions: versions.map((v) => ({ version: v.version, state: 'enabled' as const, createdAt: v.createdAt })),
    };
  }
}

function addByClass(objects: FoundObjects, cls: number, handle: Handle): void {
  if (cls === p.CKO_SECRET_KEY) objects.secret.push(handle);
  else if (cls === p.CKO_PRIVATE_KEY) objects.private.push(handle);
  else if (cls === p.CKO_PUBLIC_KEY) objects.public.push(handle);
}

/** The mechanism and the bytes to sign for a scheme and an input (message or SHA-256 digest). */
function signRequest(scheme: SignatureScheme, input: SignInput): { mechanism: pkcs11js.Mechanism; data: Buffer } {
  const pss: pkcs11js.RsaPSS = { type: p.CK_PARAMS_RSA_PSS, hashAlg: p.CKM_SHA256, mgf: p.CKG_MGF1_SHA256, saltLen: SHA256_BYTES };
  if ('digest' in input) {
    if (scheme === 'ed25519') throw KeywardError.invalidArgument('Ed25519 signs the message itself, not a digest');
    if (input.digest.byteLength !== SHA256_BYTES) {
      throw KeywardError.invalidArgument(`a SHA-256 digest is ${SHA256_BYTES} bytes, got ${input.digest.byteLength}`);
    }
    const digest = Buffer.from(input.digest);
    switch (scheme) {
      case 'ecdsa-p256-sha256':
        return { mechanism: { mechanism: p.CKM_ECDSA }, data: digest };
      case 'rsa-pkcs1-sha256':
        return { mechanism: { mechanism: p.CKM_RSA_PKCS }, data: Buffer.concat([SHA256_DIGEST_INFO_PREFIX, digest]) };
      case 'rsa-pss-sha256':
        return { mechanism: { mechanism: p.CKM_RSA_PKCS_PSS, parameter: pss }, data: digest };
    }
  }
  const message = Buffer.from(input.message);
  switch (scheme) {
    case 'ed25519':
      return { mechanism: { mechanism: CKM_EDDSA }, data: message };
    case 'ecdsa-p256-sha256':
      // SoftHSM has no CKM_ECDSA_SHA256: hash here, sign the digest in the token.
      return { mechanism: { mechanism: p.CKM_ECDSA }, data: createHash('sha256').update(message).digest() };
    case 'rsa-pkcs1-sha256':
      return { mechanism: { mechanism: p.CKM_SHA256_RSA_PKCS }, data: message };
    case 'rsa-pss-sha256':
      return { mechanism: { mechanism: p.CKM_SHA256_RSA_PKCS_PSS, parameter: pss }, data: message };
  }
}
