// One Transit secrets engine mount of the test Vault: named keys with versions held in
// memory, real cryptography (AES-256-GCM ciphertexts `vault:vN:base64(nonce|ct|tag)`,
// Ed25519 / ECDSA P-256 / RSA signatures, HMAC) and the request and response fields of
// Vault's Transit API documentation, including min_decryption_version (versions below it
// are archived: absent from `keys` and refused), min_encryption_version and upsert.
import {
  constants,
  createCipheriv,
  createDecipheriv,
  createHash,
  createHmac,
  generateKeyPair,
  randomBytes,
  sign as nodeSign,
  timingSafeEqual,
  verify as nodeVerify,
  type KeyObject,
} from 'node:crypto';
import { promisify } from 'node:util';
import {
  maxPssSaltLength,
  signDigestEcdsaP256,
  signDigestRsaPkcs1,
  signDigestRsaPss,
  verifyDigestEcdsaP256,
  verifyDigestRsaPkcs1,
  verifyDigestRsaPss,
} from './prehashed-signing.js';
import { VaultHttpError } from './vault-http-error.js';

const generateKeyPairAsync = promisify(generateKeyPair);
const signAsync = promisify(nodeSign);

export type TransitKeyType = 'aes256-gcm96' | 'aes128-gcm96' | 'ed25519' | 'ecdsa-p256' | 'rsa-2048' | 'rsa-3072' | 'rsa-4096' | 'hmac';
const KEY_TYPES: readonly string[] = ['aes256-gcm96', 'aes128-gcm96', 'ed25519', 'ecdsa-p256', 'rsa-2048', 'rsa-3072', 'rsa-4096', 'hmac'];

interface KeyVersion {
  readonly version: number;
  readonly createdAt: Date;
  /** AES key (aes*) or HMAC key (hmac type). */
  readonly key?: Buffer;
  /** Every version of every type has its own HMAC key. */
  readonly hmacKey: Buffer;
  readonly privateKey?: KeyObject;
  readonly publicKey?: KeyObject;
  /** Base64 of the raw key for Ed25519, PEM (PKIX) for ECDSA and RSA. */
  readonly formattedPublicKey?: string;
}

interface TransitKey {
  readonly name: string;
  readonly type: TransitKeyType;
  readonly versions: Map<number, KeyVersion>;
  latestVersion: number;
  minDecryptionVersion: number;
  minEncryptionVersion: number;
  minAvailableVersion: number;
  deletionAllowed: boolean;
  exportable: boolean;
  allowPlaintextBackup: boolean;
  autoRotatePeriod: number;
}

type Body = Record<string, unknown>;

interface SigningOptions {
  readonly nodeHash: string;
  readonly marshaling: string;
  readonly signatureAlgorithm: string;
  readonly prehashed: boolean;
  readonly saltLength: number | undefined;
}

const isAes = (type: TransitKeyType) => type === 'aes256-gcm96' || type === 'aes128-gcm96';
const isRsa = (type: TransitKeyType) => type.startsWith('rsa-');
const isSigning = (type: TransitKeyType) => type === 'ed25519' || type === 'ecdsa-p256' || isRsa(type);

const HASHES: Readonly<Record<string, string>> = {
  'sha2-224': 'sha224',
  'sha2-256': 'sha256',
  'sha2-384': 'sha384',
  'sha2-512': 'sha512',
  'sha3-224': 'sha3-224',
  'sha3-256': 'sha3-256',
  'sha3-384': 'sha3-384',
  'sha3-512': 'sha3-512',
};

function str(body: Body, field: string, fallback = ''): string {
  const value = body[field];
  if (value === undefined || value === null) return fallback;
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw VaultHttpError.badRequest(`error converting input for field "${field}"`);
}

function int(body: Body, field: string): number {
  const value = body[field];
  if (value === undefined || value === null || value === '') return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isInteger(n)) throw VaultHttpError.badRequest(`error converting input for field "${field}": cannot parse '' as int`);
  return n;
}

function bool(body: Body, field: string): boolean {
  const value = body[field];
  return value === true || value === 'true';
}

function base64Field(body: Body, field: string, what: string): Buffer {
  const value = str(body, field);
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) {
    throw VaultHttpError.badRequest(`failed to base64-decode ${what}`);
  }
  return Buffer.from(value, 'base64');
}

/** Splits `vault:vN:payload` the way Vault's policy code does. */
function splitVersioned(value: string, what: 'ciphertext' | 'signature' | 'HMAC'): { version: number; payload: string } {
  const prefix = 'vault:v';
  const label = what === 'HMAC' ? 'invalid HMAC' : `invalid ${what}`;
  if (!value.startsWith(prefix)) throw VaultHttpError.badRequest(`${label}: no prefix`);
  const rest = value.slice(prefix.length);
  const colon = rest.indexOf(':');
  if (colon < 0) throw VaultHttpError.badRequest(`${label}: wrong number of fields`);
  const version = Number(rest.slice(0, colon));
  if (!/^\d+$/.test(rest.slice(0, colon)) || !Number.isSafeInteger(version)) {
    throw VaultHttpError.badRequest(`${label}: version number could not be decoded`);
  }
  return { version: version === 0 ? 1 : version, payload: rest.slice(colon + 1) };
}

export class TransitEngine {
  readonly #keys = new Map<string, TransitKey>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  has(name: string): boolean {
    return this.#keys.has(name);
  }

  // --- keys ---------------------------------------------------------------------------

  /** POST /transit/keys/:name — creates, or answers the existing key with a warning. */
  async createKey(name: string, body: Body): Promise<{ data: Body; warnings?: string[] }> {
    const existing = this.#keys.get(name);
    if (existing !== undefined) return { data: this.format(existing), warnings: [`key ${name} already existed`] };
    const type = str(body, 'type', 'aes256-gcm96');
    if (!KEY_TYPES.includes(type)) throw VaultHttpError.badRequest(`unknown key type ${type}`);
    if (bool(body, 'derived') || bool(body, 'convergent_encryption')) {
      throw VaultHttpError.badRequest('the test Vault does not implement derived or convergent keys');
    }
    const key: TransitKey = {
      name,
      type: type as TransitKeyType,
      versions: new Map(),
      latestVersion: 0,
      minDecryptionVersion: 1,
      minEncryptionVersion: 0,
      minAvailableVersion: 0,
      deletionAllowed: false,
      exportable: bool(body, 'exportable'),
      allowPlaintextBackup: bool(body, 'allow_plaintext_backup'),
      autoRotatePeriod: 0,
    };
    await this.#addVersion(key);
    // A concurrent create of the same name may have finished first: keep that one.
    const raced = this.#keys.get(name);
    if (raced !== undefined) return { data: this.format(raced), warnings: [`key ${name} already existed`] };
    this.#keys.set(name, key);
    return { data: this.format(key) };
  }

  /** GET /transit/keys/:name — undefined when there is no such key (Vault answers 404). */
  readKey(name: string): Body | undefined {
    const key = this.#keys.get(name);
    return key === undefined ? undefined : this.format(key);
  }

  /** POST /transit/keys/:name/rotate */
  async rotate(name: string): Promise<Body> {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('key not found');
    await this.#addVersion(key);
    return this.format(key);
  }

  /** POST /transit/keys/:name/config */
  configure(name: string, body: Body): Body {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest(`no existing key named ${name} could be found`);
    let minDecryption = key.minDecryptionVersion;
    let minEncryption = key.minEncryptionVersion;
    if (body['min_decryption_version'] !== undefined) {
      minDecryption = int(body, 'min_decryption_version');
      if (minDecryption === 0) minDecryption = 1;
      if (minDecryption < 0) throw VaultHttpError.badRequest('min decryption version cannot be negative');
      if (minDecryption > key.latestVersion) {
        throw VaultHttpError.badRequest(`cannot set min decryption version of ${minDecryption}, latest key version is ${key.latestVersion}`);
      }
    }
    if (body['min_encryption_version'] !== undefined) {
      minEncryption = int(body, 'min_encryption_version');
      if (minEncryption < 0) throw VaultHttpError.badRequest('min encryption version cannot be negative');
      if (minEncryption > key.latestVersion) {
        throw VaultHttpError.badRequest(`cannot set min encryption version of ${minEncryption}, latest key version is ${key.latestVersion}`);
      }
    }
    if (minEncryption > 0 && minEncryption < minDecryption) {
      throw VaultHttpError.badRequest('cannot set min encryption/decryption values; min encryption version must be greater than or equal to min decryption version');
    }
    key.minDecryptionVersion = minDecryption;
    key.minEncryptionVersion = minEncryption;
    if (body['deletion_allowed'] !== undefined) key.deletionAllowed = bool(body, 'deletion_allowed');
    return this.format(key);
  }

  /** The read-key response data, with the fields Vault's formatKeyPolicy returns. */
  format(key: TransitKey): Body {
    const data: Body = {
      name: key.name,
      type: key.type,
      derived: false,
      deletion_allowed: key.deletionAllowed,
      min_available_version: key.minAvailableVersion,
      min_decryption_version: key.minDecryptionVersion,
      min_encryption_version: key.minEncryptionVersion,
      latest_version: key.latestVersion,
      exportable: key.exportable,
      allow_plaintext_backup: key.allowPlaintextBackup,
      supports_encryption: isAes(key.type) || isRsa(key.type),
      supports_decryption: isAes(key.type) || isRsa(key.type),
      supports_signing: isSigning(key.type),
      supports_derivation: isAes(key.type) || key.type === 'ed25519',
      auto_rotate_period: key.autoRotatePeriod,
      imported_key: false,
    };
    if (key.type === 'hmac') data['key_size'] = 32;
    // Versions below min_decryption_version are archived: not in `keys`. HMAC keys have
    // no `keys` field at all (formatKeyPolicy only lists AEAD and asymmetric types).
    const live = [...key.versions.values()].filter((v) => v.version >= key.minDecryptionVersion);
    if (isAes(key.type)) {
      data['keys'] = Object.fromEntries(live.map((v) => [String(v.version), Math.floor(v.createdAt.getTime() / 1000)]));
    } else if (isSigning(key.type)) {
      data['keys'] = Object.fromEntries(
        live.map((v) => [
          String(v.version),
          {
            name: key.type === 'ecdsa-p256' ? 'P-256' : key.type,
            public_key: v.formattedPublicKey ?? '',
            certificate_chain: '',
            creation_time: v.createdAt.toISOString(),
            hybrid_public_key: '',
          },
        ]),
      );
    }
    return data;
  }

  /** Test helper: the public key of a version, as a KeyObject. */
  publicKeyOf(name: string, version: number): KeyObject | undefined {
    return this.#keys.get(name)?.versions.get(version)?.publicKey;
  }

  // --- encryption -----------------------------------------------------------------------

  /** POST /transit/datakey/:type/:name */
  datakey(name: string, plaintextType: string, body: Body): Body {
    if (plaintextType !== 'plaintext' && plaintextType !== 'wrapped') {
      throw VaultHttpError.badRequest(`Invalid path, must be 'plaintext' or 'wrapped'`);
    }
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('encryption key not found');
    const bits = int(body, 'bits') || 256;
    if (bits !== 128 && bits !== 256 && bits !== 512) throw VaultHttpError.badRequest('invalid bit length');
    const dataKey = randomBytes(bits / 8);
    const ciphertext = this.#encrypt(key, int(body, 'key_version'), dataKey, Buffer.alloc(0));
    return plaintextType === 'plaintext' ? { plaintext: dataKey.toString('base64'), ciphertext } : { ciphertext };
  }

  /** POST /transit/encrypt/:name — upserts a missing key when allowed (`create` capability). */
  async encrypt(name: string, body: Body, mayUpsert: boolean): Promise<Body> {
    let key = this.#keys.get(name);
    if (key === undefined) {
      if (!mayUpsert) throw VaultHttpError.badRequest('encryption key not found');
      await this.createKey(name, { type: str(body, 'type', 'aes256-gcm96') });
      key = this.#keys.get(name)!;
    }
    const plaintext = base64Field(body, 'plaintext', 'plaintext');
    const associatedData = base64Field(body, 'associated_data', 'associated_data');
    const ciphertext = this.#encrypt(key, int(body, 'key_version'), plaintext, associatedData);
    return { ciphertext, key_version: splitVersioned(ciphertext, 'ciphertext').version };
  }

  /** POST /transit/decrypt/:name */
  decrypt(name: string, body: Body): Body {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('encryption key not found');
    const plaintext = this.#decrypt(key, str(body, 'ciphertext'), base64Field(body, 'associated_data', 'associated_data'));
    return { plaintext: plaintext.toString('base64') };
  }

  /** POST /transit/rewrap/:name */
  rewrap(name: string, body: Body): Body {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('encryption key not found');
    const associatedData = base64Field(body, 'associated_data', 'associated_data');
    const plaintext = this.#decrypt(key, str(body, 'ciphertext'), associatedData);
    const ciphertext = this.#encrypt(key, int(body, 'key_version'), plaintext, associatedData);
    return { ciphertext, key_version: splitVersioned(ciphertext, 'ciphertext').version };
  }

  #encrypt(key: TransitKey, requested: number, plaintext: Buffer, associatedData: Buffer): string {
    if (!isAes(key.type)) throw VaultHttpError.badRequest(`message encryption not supported for key type ${key.type}`);
    const version = this.#encryptionVersion(key, requested, 'encryption');
    const entry = key.versions.get(version)!;
    const nonce = randomBytes(12);
    const cipher = createCipheriv(key.type === 'aes128-gcm96' ? 'aes-128-gcm' : 'aes-256-gcm', entry.key!, nonce);
    if (associatedData.length > 0) cipher.setAAD(associatedData);
    const body = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    return `vault:v${version}:${Buffer.concat([nonce, body, cipher.getAuthTag()]).toString('base64')}`;
  }

  #decrypt(key: TransitKey, ciphertext: string, associatedData: Buffer): Buffer {
    if (!isAes(key.type)) throw VaultHttpError.badRequest(`message decryption not supported for key type ${key.type}`);
    const { version, payload } = splitVersioned(ciphertext, 'ciphertext');
    if (version > key.latestVersion) throw VaultHttpError.badRequest('invalid ciphertext: version is too new');
    if (version < key.minDecryptionVersion) {
      throw VaultHttpError.badRequest('ciphertext or signature version is disallowed by policy (too old)');
    }
    if (!/^[A-Za-z0-9+/]*={0,2}$/.test(payload) || payload.length % 4 !== 0) {
      throw VaultHttpError.badRequest('invalid ciphertext: could not decode base64');
    }
    const raw = Buffer.from(payload, 'base64');
    if (raw.length < 12 + 16) throw VaultHttpError.badRequest('invalid ciphertext length');
    const entry = key.versions.get(version)!;
    const decipher = createDecipheriv(key.type === 'aes128-gcm96' ? 'aes-128-gcm' : 'aes-256-gcm', entry.key!, raw.subarray(0, 12));
    if (associatedData.length > 0) decipher.setAAD(associatedData);
    decipher.setAuthTag(raw.subarray(raw.length - 16));
    try {
      return Buffer.concat([decipher.update(raw.subarray(12, raw.length - 16)), decipher.final()]);
    } catch {
      throw VaultHttpError.badRequest('cipher: message authentication failed');
    }
  }

  // --- signatures and MACs --------------------------------------------------------------

  /** POST /transit/sign/:name(/:hash_algorithm) */
  async sign(name: string, body: Body, urlHash: string | undefined): Promise<Body> {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('signing key not found');
    if (!isSigning(key.type)) throw VaultHttpError.badRequest(`key type ${key.type} does not support signing`);
    const version = this.#encryptionVersion(key, int(body, 'key_version'), 'signing');
    const entry = key.versions.get(version)!;
    const options = this.#signingOptions(key, body, urlHash);
    const input = base64Field(body, 'input', 'input');
    let signature: Buffer;
    if (key.type === 'ed25519') {
      signature = await signAsync(null, input, entry.privateKey!);
    } else if (key.type === 'ecdsa-p256') {
      const raw = options.prehashed
        ? signDigestEcdsaP256(entry.privateKey!, input)
        : await signAsync(options.nodeHash, input, { key: entry.privateKey!, dsaEncoding: 'ieee-p1363' });
      signature = options.marshaling === 'jws' ? raw : p1363ToDer(raw);
    } else {
      signature = await this.#signRsa(entry, input, options);
    }
    const encoded = options.marshaling === 'jws' ? signature.toString('base64url') : signature.toString('base64');
    return { signature: `vault:v${version}:${encoded}`, key_version: version };
  }

  /** POST /transit/verify/:name(/:hash_algorithm) — signatures and HMACs. */
  verify(name: string, body: Body, urlHash: string | undefined): Body {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('signature verification key not found');
    const input = base64Field(body, 'input', 'input');
    if (str(body, 'hmac') !== '') {
      const { version, payload } = splitVersioned(str(body, 'hmac'), 'HMAC');
      if (version > key.latestVersion) throw VaultHttpError.badRequest('invalid HMAC: version is too new');
      if (version < key.minDecryptionVersion) throw VaultHttpError.badRequest('cannot verify HMAC: version is too old (disallowed by policy)');
      const algorithm = HASHES[urlHash ?? str(body, 'algorithm', str(body, 'hash_algorithm', 'sha2-256'))];
      if (algorithm === undefined) throw VaultHttpError.badRequest('unsupported algorithm');
      const expected = createHmac(algorithm, key.versions.get(version)!.hmacKey).update(input).digest();
      const given = Buffer.from(payload, 'base64');
      return { valid: given.length === expected.length && timingSafeEqual(given, expected) };
    }
    if (!isSigning(key.type)) throw VaultHttpError.badRequest(`key type ${key.type} does not support verification`);
    const { version, payload } = splitVersioned(str(body, 'signature'), 'signature');
    if (version > key.latestVersion) throw VaultHttpError.badRequest('invalid signature: version is too new');
    if (version < key.minDecryptionVersion) {
      throw VaultHttpError.badRequest('ciphertext or signature version is disallowed by policy (too old)');
    }
    const options = this.#signingOptions(key, body, urlHash);
    const signature = Buffer.from(payload, options.marshaling === 'jws' ? 'base64url' : 'base64');
    const publicKey = key.versions.get(version)!.publicKey!;
    if (options.prehashed && key.type !== 'ed25519') {
      if (key.type === 'ecdsa-p256') return { valid: verifyDigestEcdsaP256(publicKey, input, options.marshaling === 'jws' ? signature : derToP1363(signature)) };
      if (options.signatureAlgorithm === 'pkcs1v15') return { valid: verifyDigestRsaPkcs1(publicKey, input, signature) };
      return { valid: verifyDigestRsaPss(publicKey, input, signature, options.saltLength) };
    }
    if (key.type === 'ed25519') return { valid: nodeVerify(null, input, publicKey, signature) };
    if (key.type === 'ecdsa-p256') {
      return { valid: nodeVerify(options.nodeHash, input, { key: publicKey, dsaEncoding: options.marshaling === 'jws' ? 'ieee-p1363' : 'der' }, signature) };
    }
    const pss = options.signatureAlgorithm === 'pss';
    return {
      valid: nodeVerify(options.nodeHash, input, {
        key: publicKey,
        padding: pss ? constants.RSA_PKCS1_PSS_PADDING : constants.RSA_PKCS1_PADDING,
        ...(pss ? { saltLength: options.saltLength ?? constants.RSA_PSS_SALTLEN_AUTO } : {}),
      }, signature),
    };
  }

  /** POST /transit/hmac/:name(/:algorithm) — every key type has per-version HMAC keys. */
  hmac(name: string, body: Body, urlAlgorithm: string | undefined): Body {
    const key = this.#keys.get(name);
    if (key === undefined) throw VaultHttpError.badRequest('encryption key not found');
    const algorithmName = urlAlgorithm ?? str(body, 'algorithm', 'sha2-256');
    const algorithm = HASHES[algorithmName];
    if (algorithm === undefined) throw VaultHttpError.badRequest(`unsupported algorithm ${algorithmName}`);
    let version = int(body, 'key_version');
    if (version === 0) version = key.latestVersion;
    if (version > key.latestVersion) throw VaultHttpError.badRequest('cannot generate HMAC: version is too new');
    if (key.minEncryptionVersion > 0 && version < key.minEncryptionVersion) {
      throw VaultHttpError.badRequest('cannot generate HMAC: version is too old (disallowed by policy)');
    }
    const entry = key.versions.get(version);
    if (entry === undefined || version < key.minDecryptionVersion) throw VaultHttpError.badRequest('no such key version');
    const input = base64Field(body, 'input', 'input');
    return { hmac: `vault:v${version}:${createHmac(algorithm, entry.hmacKey).update(input).digest('base64')}` };
  }

  // --- internals ------------------------------------------------------------------------

  #encryptionVersion(key: TransitKey, requested: number, what: 'encryption' | 'signing'): number {
    if (requested < 0) throw VaultHttpError.badRequest(`requested version for ${what} is negative`);
    if (requested === 0) return key.minEncryptionVersion > 0 ? Math.max(key.minEncryptionVersion, key.latestVersion) : key.latestVersion;
    if (requested > key.latestVersion) throw VaultHttpError.badRequest(`requested version for ${what} is higher than the latest key version`);
    if (key.minEncryptionVersion > 0 && requested < key.minEncryptionVersion) {
      throw VaultHttpError.badRequest(`requested version for ${what} is less than the minimum encryption key version`);
    }
    if (requested < key.minDecryptionVersion) throw VaultHttpError.badRequest('no such key version');
    return requested;
  }

  #signingOptions(key: TransitKey, body: Body, urlHash: string | undefined): SigningOptions {
    const hashName = urlHash ?? str(body, 'hash_algorithm', 'sha2-256');
    const nodeHash = HASHES[hashName];
    if (nodeHash === undefined) throw VaultHttpError.badRequest(`unsupported hash algorithm ${hashName}`);
    const marshaling = str(body, 'marshaling_algorithm', 'asn1');
    if (marshaling !== 'asn1' && marshaling !== 'jws') throw VaultHttpError.badRequest(`unsupported marshaling type ${marshaling}`);
    const signatureAlgorithm = str(body, 'signature_algorithm', 'pss');
    if (isRsa(key.type) && signatureAlgorithm !== 'pss' && signatureAlgorithm !== 'pkcs1v15') {
      throw VaultHttpError.badRequest(`unsupported rsa signature algorithm ${signatureAlgorithm}`);
    }
    const prehashed = bool(body, 'prehashed');
    if (prehashed && hashName !== 'sha2-256' && key.type !== 'ed25519') {
      throw VaultHttpError.badRequest('the test Vault signs prehashed input for sha2-256 only');
    }
    const saltText = str(body, 'salt_length', 'auto');
    let saltLength: number | undefined;
    if (saltText === 'hash') saltLength = createHash(nodeHash).digest().length;
    else if (saltText !== 'auto') {
      saltLength = Number(saltText);
      if (!Number.isInteger(saltLength)) throw VaultHttpError.badRequest(`salt length must be "auto", "hash", or an integer; got "${saltText}"`);
    }
    return { nodeHash, marshaling, signatureAlgorithm, prehashed, saltLength };
  }

  async #signRsa(entry: KeyVersion, input: Buffer, options: SigningOptions): Promise<Buffer> {
    const modulusBits = entry.privateKey!.asymmetricKeyDetails!.modulusLength!;
    if (options.signatureAlgorithm === 'pkcs1v15') {
      return options.prehashed
        ? signDigestRsaPkcs1(entry.privateKey!, input)
        : signAsync(options.nodeHash, input, { key: entry.privateKey!, padding: constants.RSA_PKCS1_PADDING });
    }
    const max = maxPssSaltLength(modulusBits);
    const saltLength = options.saltLength ?? max;
    if (saltLength < 0 || saltLength > max) throw VaultHttpError.badRequest(`requested salt length ${saltLength} is invalid`);
    return options.prehashed
      ? signDigestRsaPss(entry.privateKey!, input, saltLength)
      : signAsync(options.nodeHash, input, { key: entry.privateKey!, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength });
  }

  async #addVersion(key: TransitKey): Promise<void> {
    const version = key.latestVersion + 1;
    const base = { version, createdAt: new Date(this.#now()), hmacKey: randomBytes(32) };
    let entry: KeyVersion;
    switch (key.type) {
      case 'aes256-gcm96':
        entry = { ...base, key: randomBytes(32) };
        break;
      case 'aes128-gcm96':
        entry = { ...base, key: randomBytes(16) };
        break;
      case 'hmac':
        entry = { ...base, hmacKey: randomBytes(32) };
        break;
      case 'ed25519': {
        const { privateKey, publicKey } = await generateKeyPairAsync('ed25519');
        const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x!, 'base64url');
        entry = { ...base, privateKey, publicKey, formattedPublicKey: raw.toString('base64') };
        break;
      }
      case 'ecdsa-p256': {
        const { privateKey, publicKey } = await generateKeyPairAsync('ec', { namedCurve: 'P-256' });
        entry = { ...base, privateKey, publicKey, formattedPublicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string };
        break;
      }
      default: {
        const bits = Number(key.type.slice('rsa-'.length));
        const { privateKey, publicKey } = await generateKeyPairAsync('rsa', { modulusLength: bits });
        entry = { ...base, privateKey, publicKey, formattedPublicKey: publicKey.export({ type: 'spki', format: 'pem' }) as string };
      }
    }
    // Concurrent rotations of one key each get their own version number.
    const next = key.latestVersion + 1;
    key.versions.set(next, { ...entry, version: next });
    key.latestVersion = next;
  }
}

/** The ASN.1 DER SEQUENCE of two INTEGERs back to r || s (32 bytes each); garbage gives zeros. */
function derToP1363(der: Buffer): Buffer {
  const out = Buffer.alloc(64);
  try {
    let i = 2;
    for (const offset of [0, 32]) {
      const len = der[i + 1]!;
      const v = der.subarray(i + 2, i + 2 + len);
      const trimmed = v.subarray(Math.max(0, v.length - 32));
      trimmed.copy(out, offset + 32 - trimmed.length);
      i += 2 + len;
    }
  } catch {
    // zeros never verify
  }
  return out;
}

/** IEEE P1363 (r || s) to the ASN.1 DER SEQUENCE Vault's default `asn1` marshaling uses. */
function p1363ToDer(raw: Buffer): Buffer {
  const integer = (bytes: Buffer) => {
    let i = 0;
    while (i < bytes.length - 1 && bytes[i] === 0) i++;
    let v = bytes.subarray(i);
    if (v[0]! & 0x80) v = Buffer.concat([Buffer.from([0]), v]);
    return Buffer.concat([Buffer.from([0x02, v.length]), v]);
  };
  const body = Buffer.concat([integer(raw.subarray(0, 32)), integer(raw.subarray(32))]);
  return Buffer.concat([Buffer.from([0x30, body.length]), body]);
}
