// The `vault` backend: KEKs are HashiCorp Vault Transit keys and never leave Vault.
// DEKs come from transit/datakey/plaintext (Vault's RNG) or from the local CSPRNG sealed
// with transit/encrypt, per key; the wrapped DEK is Transit's `vault:vN:…` ciphertext,
// unwrapped with transit/decrypt only on a DEK cache miss. Signatures and MACs are
// transit/sign and transit/hmac. Key versions and their states come from the key's
// metadata (latest / min_decryption / min_encryption version), polled so that versions
// Vault stops decrypting are reported to watchers (who purge their cached DEKs).
//
// Binding of a wrapped DEK to its key and version: the ciphertext names its version
// (`vault:vN:`), which must equal the version asked for, and only the Transit key of the
// key id can authenticate it (AES-GCM under that key's version-N material). Transit's
// `context` is not used: it exists only for derived keys, which keyward refuses.
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { DataKey, KeyBackend, SignatureScheme, SignInput } from '../../core/key-backend.js';
import { SCHEMES_BY_ALGORITHM, type KeyPurpose, type KeySpec, type KeyVersions } from '../../core/key-types.js';
import { noopBackendTracer, type BackendTracer } from '../../core/backend-tracer.js';
import { KeywardError } from '../../core/keyward-error.js';
import type { Logger } from '../../core/logger.js';
import { SecretBytes } from '../../core/secret-bytes.js';
import type { BreakerState } from './circuit-breaker.js';
import { KeyVersionPoller } from './key-version-poller.js';
import { SecretRedactor } from './secret-redactor.js';
import { readSecret } from './secret-source.js';
import { systemTiming, type Timing } from './timing.js';
import { TRANSIT_TYPE, parseTransitKey, toKeyVersions, versionState, versionsFingerprint, type TransitKeyInfo } from './transit-key-info.js';
import { VaultAuth, VaultAuthError, authErrorToKeyward } from './vault-auth.js';
import type { VaultBackendSettings } from './vault-backend-settings.js';
import { toKeywardError, type ErrorContext, type VaultOperation } from './vault-error-mapping.js';
import type { RetryMode } from './retry-policy.js';
import { VaultRequester } from './vault-requester.js';
import { VaultRequestError, isHttpStatus } from './vault-request-error.js';
import { VaultTransport, type VaultTlsMaterial } from './vault-transport.js';

const DEK_BYTES = 32;
/** The longest wrapped DEK the envelope format carries. */
const MAX_WRAPPED_BYTES = 1024;
const VERSIONED = /^vault:v([1-9][0-9]{0,9}):([A-Za-z0-9+/_-]+={0,2})$/;
const BASE64_DEK = /^[A-Za-z0-9+/]{43}=$/;
/** A version newer than known re-reads the key's metadata at most this often. */
const UNKNOWN_VERSION_REFRESH_MS = 1_000;

export interface VaultBackendOptions {
  readonly name: string;
  readonly settings: VaultBackendSettings;
  readonly logger: Logger;
  /** Child spans of the calling RPC, one per Vault request (retries included). */
  readonly tracer?: BackendTracer;
  /** Clock and timers (tests). */
  readonly timing?: Timing;
}

/** Told when the versions of a key change in Vault (rotation, min_decryption_version). */
export type VersionListener = (keyId: string, versions: KeyVersions) => void;

interface KeyState {
  readonly spec: KeySpec;
  readonly vaultName: string;
  info: TransitKeyInfo;
  versions: KeyVersions;
  fingerprint: string;
  /** Creation times seen so far (Vault stops listing archived versions). */
  readonly createdAt: Map<number, Date>;
  /** Parsed once per version (design.md §8). */
  readonly publicKeys: Map<number, KeyObject>;
  /** When the metadata was last read (a newer version than known triggers a re-read, at most this often). */
  refreshedAt: number;
}

/** Decodes a base64 DEK into memory SecretBytes owns; undefined unless exactly 32 bytes. */
function decodeDek(value: unknown): SecretBytes | undefined {
  if (typeof value !== 'string' || !BASE64_DEK.test(value)) return undefined;
  const buf = Buffer.allocUnsafeSlow(DEK_BYTES);
  if (buf.write(value, 'base64') !== DEK_BYTES) {
    buf.fill(0);
    return undefined;
  }
  return SecretBytes.adopt(buf);
}

/** `vault:vN:payload` → N and payload, or undefined. */
function splitVersioned(value: unknown): { version: number; payload: string } | undefined {
  if (typeof value !== 'string') return undefined;
  const m = VERSIONED.exec(value);
  return m === null ? undefined : { version: Number(m[1]), payload: m[2]! };
}

const b64 = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');

export class VaultBackend implements KeyBackend {
  readonly kind = 'vault';
  readonly name: string;
  readonly #settings: VaultBackendSettings;
  readonly #log: Logger;
  readonly #timing: Timing;
  readonly #tracer: BackendTracer;
  readonly #redactor = new SecretRedactor();
  readonly #keys = new Map<string, KeyState>();
  readonly #listeners = new Set<VersionListener>();
  #requester: VaultRequester | undefined;
  #auth: VaultAuth | undefined;
  #poller: KeyVersionPoller | undefined;
  #pollFailing = false;
  #opened = false;
  #closed = false;

  constructor(options: VaultBackendOptions) {
    this.name = options.name;
    this.#settings = options.settings;
    this.#log = options.logger;
    this.#timing = options.timing ?? systemTiming;
    this.#tracer = options.tracer ?? noopBackendTracer;
  }

  // --- lifecycle --------------------------------------------------------------------------

  async open(): Promise<void> {
    const s = this.#settings;
    const address = new URL(s.address);
    const transport = new VaultTransport(address, {
      timeoutMs: s.request_timeout_ms,
      maxSockets: s.max_concurrent_requests,
      redactor: this.#redactor,
      ...(address.protocol === 'https:' ? { tls: await this.#tlsMaterial() } : {}),
    });
    this.#requester = new VaultRequester({
      address: address.origin,
      namespace: s.namespace,
      transport,
      timeoutMs: s.request_timeout_ms,
      maxConcurrent: s.max_concurrent_requests,
      retry: { maxAttempts: s.retry.max_attempts, baseDelayMs: s.retry.base_delay_ms, maxDelayMs: s.retry.max_delay_ms },
      breaker: { failureThreshold: s.circuit_breaker.failure_threshold, openMs: s.circuit_breaker.open_ms },
      timing: this.#timing,
      redactor: this.#redactor,
      logger: this.#log,
    });
    this.#auth = new VaultAuth({ settings: s.auth, requester: this.#requester, timing: this.#timing, logger: this.#log, redactor: this.#redactor });
    try {
      await this.#auth.start();
    } catch (err) {
      this.#requester.close();
      if (err instanceof VaultAuthError) throw authErrorToKeyward(err, this.name, true);
      throw err;
    }
    if (s.key_poll_interval_ms > 0) {
      this.#poller = new KeyVersionPoller(s.key_poll_interval_ms, this.#timing, () => this.#pollAll());
      this.#poller.start();
    }
    this.#opened = true;
  }

  async #tlsMaterial(): Promise<VaultTlsMaterial> {
    const tls = this.#settings.tls;
    if (tls === undefined) return {};
    const readPem = async (file: string, what: string) => {
      try {
        return await readFile(file, 'utf8');
      } catch (err) {
        throw new KeywardError('failed-precondition', `vault backend "${this.name}": cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`);
      }
    };
    const key = tls.client_key !== undefined ? await readSecret(tls.client_key, 'TLS client key') : undefined;
    this.#redactor.add(key);
    return {
      ...(tls.ca_file !== undefined ? { ca: await readPem(tls.ca_file, 'CA file') } : {}),
      ...(tls.client_cert_file !== undefined ? { cert: await readPem(tls.client_cert_file, 'client certificate') } : {}),
      ...(key !== undefined ? { key } : {}),
      ...(tls.server_name !== undefined ? { serverName: tls.server_name } : {}),
    };
  }

  isReady(): boolean {
    return this.#opened && !this.#closed && this.#auth!.hasToken && this.#requester!.breakerState !== 'open';
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#poller?.stop();
    this.#listeners.clear();
    await this.#auth?.stop();
    this.#requester?.close();
    for (const state of this.#keys.values()) state.publicKeys.clear();
  }

  /**
   * Subscribes to version changes Vault reports (polled every key_poll_interval_ms, and
   * seen by describeKey, rotateKey and refused decryptions). Returns the unsubscribe.
   */
  watchVersions(listener: VersionListener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Counters for tests, the benchmark and diagnostics. */
  stats(): { requests: number; logins: number; renewals: number; breaker: BreakerState } {
    return {
      requests: this.#requester?.sent ?? 0,
      logins: this.#auth?.logins ?? 0,
      renewals: this.#auth?.renewals ?? 0,
      breaker: this.#requester?.breakerState ?? 'closed',
    };
  }

  // --- keys -------------------------------------------------------------------------------

  async ensureKey(spec: KeySpec): Promise<KeyVersions> {
    this.#assertOpen();
    const vaultName = `${this.#settings.key_name_prefix}${spec.keyId}`;
    const expected = TRANSIT_TYPE[spec.algorithm];
    let info = await this.#readKey(spec.keyId, vaultName);
    const generated = info === undefined;
    if (info === undefined) {
      if (!this.#settings.create_keys) {
        throw new KeywardError(
          'failed-precondition',
          `vault backend "${this.name}": Transit key "${vaultName}" does not exist and create_keys is false; create it with type ${expected}`,
        );
      }
      await this.#vault({ method: 'POST', path: this.#path('keys', vaultName), body: { type: expected } }, { operation: 'create-key', keyId: spec.keyId });
      info = await this.#readKey(spec.keyId, vaultName);
      if (info === undefined) throw new KeywardError('unavailable', `vault backend "${this.name}": Transit key "${vaultName}" is missing right after it was created`);
      this.#log.info({ event: 'key.generated', key_id: spec.keyId, key_version: info.latestVersion, algorithm: spec.algorithm }, 'key generated');
    }
    if (info.type !== expected) {
      throw new KeywardError(
        'failed-precondition',
        `vault backend "${this.name}": Transit key "${vaultName}" has type ${info.type}, but the configuration declares ${spec.purpose}/${spec.algorithm} (type ${expected})`,
      );
    }
    if (info.derived) {
      throw new KeywardError('failed-precondition', `vault backend "${this.name}": Transit key "${vaultName}" is a derived key; keyward needs a key without derivation`);
    }
    const state: KeyState = {
      spec,
      vaultName,
      info,
      versions: { primaryVersion: 0, versions: [] },
      fingerprint: '',
      createdAt: new Map(),
      publicKeys: new Map(),
      refreshedAt: this.#timing.now(),
    };
    this.#adopt(state, info, false);
    this.#keys.set(spec.keyId, state);
    return generated ? { ...state.versions, generated: true } : state.versions;
  }

  async describeKey(keyId: string): Promise<KeyVersions> {
    return this.#refresh(this.#state(keyId));
  }

  async rotateKey(keyId: string): Promise<KeyVersions> {
    const state = this.#state(keyId);
    // Not idempotent: retried only when Vault cannot have processed it.
    const answer = await this.#vault({ method: 'POST', path: this.#path('keys', state.vaultName, 'rotate'), body: {}, retry: 'unsafe' }, { operation: 'rotate', keyId });
    let versions: KeyVersions;
    const data = answer['data'];
    if (data !== null && typeof data === 'object') {
      versions = this.#adopt(state, this.#parse(data, `rotate ${state.vaultName}`), true);
    } else {
      versions = await this.#refresh(state); // Vault before 1.x answered 204
    }
    this.#log.info({ event: 'key.rotated', key_id: keyId, key_version: versions.primaryVersion }, 'key rotated');
    return versions;
  }

  // --- data keys --------------------------------------------------------------------------

  async generateDataKey(keyId: string, version: number): Promise<DataKey> {
    const state = await this.#forEncryption(keyId, version);
    const ctx = { keyId, version };
    if ((this.#settings.data_key_source_by_key[keyId] ?? this.#settings.data_key_source) === 'vault') {
      const answer = await this.#vault(
        { method: 'POST', path: this.#path('datakey', 'plaintext', state.vaultName), body: { key_version: version, bits: DEK_BYTES * 8 } },
        { operation: 'datakey', ...ctx },
      );
      const data = (answer['data'] ?? {}) as Record<string, unknown>;
      const wrapped = splitVersioned(data['ciphertext']);
      const dek = decodeDek(data['plaintext']);
      if (dek !== undefined && wrapped?.version === version) return { plaintext: dek, wrapped: Buffer.from(data['ciphertext'] as string, 'utf8') };
      dek?.dispose();
      if (wrapped === undefined || dek === undefined) {
        throw toKeywardError(new VaultRequestError('protocol', `datakey ${state.vaultName}: the answer is not a 256-bit data key and a Transit ciphertext`), {
          backend: this.name,
          operation: 'datakey',
          ...ctx,
        });
      }
      // A Vault that ignores key_version wrapped under another version: seal one ourselves.
      this.#log.warn({ event: 'vault.datakey.version_mismatch', key_id: keyId, asked: version, got: wrapped.version }, 'transit/datakey ignored key_version; using transit/encrypt');
    }
    const dek = SecretBytes.random(DEK_BYTES);
    try {
      const answer = await this.#vault(
        { method: 'POST', path: this.#path('encrypt', state.vaultName), body: { plaintext: b64(dek.expose()), key_version: version } },
        { operation: 'encrypt', ...ctx },
      );
      const ciphertext = (answer['data'] as Record<string, unknown> | undefined)?.['ciphertext'];
      if (splitVersioned(ciphertext)?.version !== version) {
        throw toKeywardError(new VaultRequestError('protocol', `encrypt ${state.vaultName}: the answer is not a Transit ciphertext of v${version}`), {
          backend: this.name,
          operation: 'encrypt',
          ...ctx,
        });
      }
      return { plaintext: dek, wrapped: Buffer.from(ciphertext as string, 'utf8') };
    } catch (err) {
      dek.dispose();
      throw err;
    }
  }

  async unwrapDataKey(keyId: string, version: number, wrapped: Uint8Array): Promise<SecretBytes> {
    const state = this.#known(keyId, 'encrypt');
    await this.#assertUsable(state, version);
    const text = wrapped.byteLength <= MAX_WRAPPED_BYTES ? Buffer.from(wrapped.buffer, wrapped.byteOffset, wrapped.byteLength).toString('latin1') : '';
    const parsed = splitVersioned(text);
    if (parsed === undefined || parsed.version !== version || parsed.payload.includes('_') || parsed.payload.includes('-')) {
      throw KeywardError.decryptionFailed(new Error(`vault backend: the wrapped DEK is not a Transit ciphertext of ${keyId} v${version}`));
    }
    let answer: Record<string, unknown>;
    try {
      answer = await this.#vault({ method: 'POST', path: this.#path('decrypt', state.vaultName), body: { ciphertext: text } }, { operation: 'decrypt', keyId, version });
    } catch (err) {
      // Vault refuses the version (min_decryption_version moved): learn it now, so watchers purge.
      if (err instanceof KeywardError && err.code === 'failed-precondition') void this.#refresh(state).catch(() => undefined);
      throw err;
    }
    const dek = decodeDek((answer['data'] as Record<string, unknown> | undefined)?.['plaintext']);
    if (dek === undefined) throw KeywardError.decryptionFailed(new Error(`vault backend: ${keyId} v${version} did not decrypt to a 256-bit DEK`));
    return dek;
  }

  // --- signatures and MACs ----------------------------------------------------------------

  async sign(keyId: string, version: number, scheme: SignatureScheme, input: SignInput): Promise<Buffer> {
    const state = this.#known(keyId, 'sign');
    const algorithm = state.spec.algorithm;
    if (!SCHEMES_BY_ALGORITHM[algorithm]?.includes(scheme)) {
      throw new KeywardError('failed-precondition', `key "${keyId}" (${algorithm}) cannot sign with ${scheme}`);
    }
    await this.#assertUsable(state, version);
    const body: Record<string, unknown> = { key_version: version };
    if ('digest' in input) {
      if (scheme === 'ed25519') throw KeywardError.invalidArgument('Ed25519 signs messages, not precomputed digests');
      if (input.digest.byteLength !== 32) throw KeywardError.invalidArgument(`a SHA-256 digest is 32 bytes, not ${input.digest.byteLength}`);
      body['input'] = b64(input.digest);
      body['prehashed'] = true;
    } else {
      body['input'] = b64(input.message);
    }
    if (scheme !== 'ed25519') body['hash_algorithm'] = 'sha2-256';
    if (scheme === 'ecdsa-p256-sha256') body['marshaling_algorithm'] = 'jws'; // r || s, base64url
    if (scheme === 'rsa-pkcs1-sha256') body['signature_algorithm'] = 'pkcs1v15';
    if (scheme === 'rsa-pss-sha256') {
      body['signature_algorithm'] = 'pss';
      body['salt_length'] = '32';
    }
    const answer = await this.#vault({ method: 'POST', path: this.#path('sign', state.vaultName), body }, { operation: 'sign', keyId, version });
    const signature = splitVersioned((answer['data'] as Record<string, unknown> | undefined)?.['signature']);
    if (signature === undefined || signature.version !== version) {
      throw new KeywardError('unavailable', `vault backend "${this.name}": sign key "${keyId}" v${version}: the answer is not a signature of that version`);
    }
    const bytes = Buffer.from(signature.payload, scheme === 'ecdsa-p256-sha256' ? 'base64url' : 'base64');
    if (scheme === 'ecdsa-p256-sha256' && bytes.byteLength !== 64) {
      throw new KeywardError('unavailable', `vault backend "${this.name}": sign key "${keyId}": an ECDSA P-256 JWS signature has 64 bytes, got ${bytes.byteLength}`);
    }
    return bytes;
  }

  /**
   * Verifies a signature over a SHA-256 digest in Vault (transit/verify with prehashed):
   * node:crypto cannot verify prehashed ECDSA or RSA. ECDSA signatures arrive as P1363,
   * which is Transit's `jws` marshaling.
   */
  async verifyDigest(keyId: string, version: number, scheme: SignatureScheme, digest: Uint8Array, signature: Uint8Array): Promise<boolean> {
    const state = this.#known(keyId, 'sign');
    const algorithm = state.spec.algorithm;
    if (!SCHEMES_BY_ALGORITHM[algorithm]?.includes(scheme)) {
      throw new KeywardError('failed-precondition', `key "${keyId}" (${algorithm}) cannot verify ${scheme}`);
    }
    if (scheme === 'ed25519') throw KeywardError.invalidArgument('Ed25519 verifies messages, not precomputed digests');
    if (digest.byteLength !== 32) throw KeywardError.invalidArgument(`a SHA-256 digest is 32 bytes, not ${digest.byteLength}`);
    await this.#assertUsable(state, version);
    const encoded =
      scheme === 'ecdsa-p256-sha256'
        ? Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength).toString('base64url')
        : b64(signature);
    const body: Record<string, unknown> = { input: b64(digest), prehashed: true, hash_algorithm: 'sha2-256', signature: `vault:v${version}:${encoded}` };
    if (scheme === 'ecdsa-p256-sha256') body['marshaling_algorithm'] = 'jws';
    if (scheme === 'rsa-pkcs1-sha256') body['signature_algorithm'] = 'pkcs1v15';
    if (scheme === 'rsa-pss-sha256') {
      body['signature_algorithm'] = 'pss';
      body['salt_length'] = '32';
    }
    const answer = await this.#vault({ method: 'POST', path: this.#path('verify', state.vaultName), body }, { operation: 'verify', keyId, version });
    const valid = (answer['data'] as Record<string, unknown> | undefined)?.['valid'];
    if (typeof valid !== 'boolean') throw new KeywardError('unavailable', `vault backend "${this.name}": verify key "${keyId}": the answer has no verdict`);
    return valid;
  }

  async publicKey(keyId: string, version: number): Promise<KeyObject> {
    const state = this.#known(keyId, 'sign');
    const cached = state.publicKeys.get(version);
    if (cached !== undefined) return cached;
    if (!state.info.publicKeys.has(version)) await this.#refreshForNewer(state, version, true);
    const formatted = state.info.publicKeys.get(version);
    if (formatted === undefined) throw new KeywardError('not-found', `key "${keyId}" has no public key for version ${version} in Vault`);
    let key: KeyObject;
    try {
      key = formatted.startsWith('-----BEGIN')
        ? createPublicKey(formatted)
        : createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(formatted, 'base64').toString('base64url') }, format: 'jwk' });
    } catch (err) {
      throw new KeywardError('unavailable', `vault backend "${this.name}": the public key of "${keyId}" v${version} from Vault does not parse`, { cause: err });
    }
    state.publicKeys.set(version, key);
    return key;
  }

  async mac(keyId: string, version: number, data: Uint8Array): Promise<Buffer> {
    const state = this.#known(keyId, 'mac');
    await this.#assertUsable(state, version);
    const answer = await this.#vault(
      { method: 'POST', path: this.#path('hmac', state.vaultName, 'sha2-256'), body: { input: b64(data), key_version: version } },
      { operation: 'hmac', keyId, version },
    );
    const hmac = splitVersioned((answer['data'] as Record<string, unknown> | undefined)?.['hmac']);
    const bytes = hmac !== undefined && hmac.version === version ? Buffer.from(hmac.payload, 'base64') : undefined;
    if (bytes === undefined || bytes.byteLength !== 32) {
      throw new KeywardError('unavailable', `vault backend "${this.name}": hmac key "${keyId}" v${version}: the answer is not an HMAC-SHA-256 of that version`);
    }
    return bytes;
  }

  // --- internals --------------------------------------------------------------------------

  #path(...parts: string[]): string {
    return [this.#settings.transit_mount, ...parts.map((p) => encodeURIComponent(p))].join('/');
  }

  #assertOpen(): void {
    if (this.#closed) throw new KeywardError('unavailable', `vault backend "${this.name}" is closed`);
    if (!this.#opened) throw new KeywardError('unavailable', `vault backend "${this.name}" is not open`);
  }

  #state(keyId: string): KeyState {
    this.#assertOpen();
    const state = this.#keys.get(keyId);
    if (state === undefined) throw new KeywardError('not-found', `key "${keyId}" not found`);
    return state;
  }

  #known(keyId: string, purpose: KeyPurpose): KeyState {
    const state = this.#state(keyId);
    if (state.spec.purpose !== purpose) {
      throw new KeywardError('failed-precondition', `key "${keyId}" is a ${state.spec.purpose} key, not a ${purpose} key`);
    }
    return state;
  }

  /** As #assertNotDisabled, after one re-read when the version is newer than the backend knows (rotated elsewhere). */
  async #assertUsable(state: KeyState, version: number): Promise<void> {
    await this.#refreshForNewer(state, version);
    this.#assertNotDisabled(state, version);
  }

  #assertNotDisabled(state: KeyState, version: number): void {
    if (version < 1 || version > state.info.latestVersion) throw new KeywardError('not-found', `key "${state.spec.keyId}" has no version ${version}`);
    const current = versionState(state.info, version);
    if (current !== 'enabled') {
      throw new KeywardError('failed-precondition', `version ${version} of key "${state.spec.keyId}" is ${current} in Vault (below min_decryption_version ${state.info.minDecryptionVersion})`);
    }
  }

  /** A key version that may wrap new DEKs: enabled, and not below min_encryption_version. */
  async #forEncryption(keyId: string, version: number): Promise<KeyState> {
    const state = this.#known(keyId, 'encrypt');
    await this.#refreshForNewer(state, version);
    if (version > state.info.latestVersion) throw new KeywardError('not-found', `key "${keyId}" has no version ${version}`);
    this.#assertNotDisabled(state, version);
    const minEncryption = state.info.minEncryptionVersion;
    if (minEncryption > 0 && version < minEncryption) {
      throw new KeywardError('failed-precondition', `version ${version} of key "${keyId}" is below its min_encryption_version ${minEncryption} in Vault`);
    }
    return state;
  }

  /** Reads a key's metadata; undefined when Vault has no such key. */
  async #readKey(keyId: string, vaultName: string): Promise<TransitKeyInfo | undefined> {
    let answer: Record<string, unknown>;
    try {
      answer = await this.#vault({ method: 'GET', path: this.#path('keys', vaultName) }, { operation: 'read-key', keyId }, true);
    } catch (err) {
      if (isHttpStatus(err, 404)) return undefined;
      throw toKeywardError(err, { backend: this.name, operation: 'read-key', keyId });
    }
    return this.#parse(answer['data'], `read ${vaultName}`);
  }

  #parse(data: unknown, where: string): TransitKeyInfo {
    try {
      return parseTransitKey(data, where);
    } catch (err) {
      throw toKeywardError(err, { backend: this.name, operation: 'read-key' });
    }
  }

  /** Re-reads the metadata when `version` is newer than known (or `always`), at most once a second. */
  async #refreshForNewer(state: KeyState, version: number, always = false): Promise<void> {
    if (!always && version <= state.info.latestVersion) return;
    if (this.#timing.now() - state.refreshedAt < UNKNOWN_VERSION_REFRESH_MS) return;
    await this.#refresh(state);
  }

  async #refresh(state: KeyState): Promise<KeyVersions> {
    const info = await this.#readKey(state.spec.keyId, state.vaultName);
    if (info === undefined) throw new KeywardError('not-found', `vault backend "${this.name}": Transit key "${state.vaultName}" no longer exists in Vault`);
    return this.#adopt(state, info, true);
  }

  /** Takes new metadata; tells the watchers when the versions changed. */
  #adopt(state: KeyState, info: TransitKeyInfo, notify: boolean): KeyVersions {
    state.refreshedAt = this.#timing.now();
    for (const [version, at] of info.createdAt) state.createdAt.set(version, at);
    const versions = toKeyVersions(info, state.createdAt);
    const fingerprint = versionsFingerprint(versions);
    state.info = info;
    state.versions = versions;
    if (fingerprint === state.fingerprint) return versions;
    const first = state.fingerprint === '';
    state.fingerprint = fingerprint;
    if (!first && notify) {
      this.#log.info(
        { event: 'vault.key.versions_changed', key_id: state.spec.keyId, primary_version: versions.primaryVersion, min_decryption_version: info.minDecryptionVersion },
        'key versions changed in Vault',
      );
      for (const listener of this.#listeners) {
        try {
          listener(state.spec.keyId, versions);
        } catch (err) {
          this.#log.error({ event: 'vault.key.listener_failed', key_id: state.spec.keyId, err }, 'a version listener threw');
        }
      }
    }
    return versions;
  }

  async #pollAll(): Promise<void> {
    let failure: unknown;
    for (const state of this.#keys.values()) {
      if (this.#closed) return;
      try {
        await this.#refresh(state);
      } catch (err) {
        failure ??= err;
      }
    }
    if (failure !== undefined && !this.#pollFailing) {
      this.#pollFailing = true;
      this.#log.warn({ event: 'vault.poll.failing', error: failure instanceof Error ? failure.message : String(failure) }, 'cannot read key metadata from Vault; will keep trying');
    } else if (failure === undefined && this.#pollFailing) {
      this.#pollFailing = false;
      this.#log.info({ event: 'vault.poll.recovered' }, 'key metadata readable from Vault again');
    }
  }

  /**
   * One request with the current token. A 403 asks the auth whether the token died; if
   * a new one was obtained the request is sent once more, else the 403 stands. Errors
   * come out as KeywardErrors, unless `raw` (then as VaultRequestErrors where possible).
   */
  async #vault(
    req: { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown>; retry?: RetryMode },
    ctx: Omit<ErrorContext, 'backend' | 'operation'> & { operation: VaultOperation },
    raw = false,
  ): Promise<Record<string, unknown>> {
    const attributes = {
      'keyward.backend': this.name,
      'keyward.backend.operation': ctx.operation,
      'http.request.method': req.method,
      'url.path': `/v1/${req.path}`,
      ...(ctx.keyId !== undefined ? { 'keyward.key.id': ctx.keyId } : {}),
    };
    return this.#tracer.run(`vault ${req.method}`, attributes, () => this.#vaultOnce(req, ctx, raw));
  }

  async #vaultOnce(
    req: { method: 'GET' | 'POST'; path: string; body?: Record<string, unknown>; retry?: RetryMode },
    ctx: Omit<ErrorContext, 'backend' | 'operation'> & { operation: VaultOperation },
    raw: boolean,
  ): Promise<Record<string, unknown>> {
    try {
      this.#assertOpen();
      const requester = this.#requester!;
      const auth = this.#auth!;
      let token = await auth.token();
      try {
        return (await requester.send({ ...req, token })) ?? {};
      } catch (err) {
        if (!isHttpStatus(err, 403) || !(await auth.recover(token, req.path))) throw err;
        token = await auth.token();
        return (await requester.send({ ...req, token })) ?? {};
      }
    } catch (err) {
      if (raw && err instanceof VaultRequestError) throw err;
      throw toKeywardError(err, { backend: this.name, ...ctx });
    }
  }
}
