// The pkcs11 backend against a real SoftHSM2 token: the shared backend contract (each
// contract "storage" is a key prefix of its own on one token), and what is the HSM's
// own — key objects with the policy's attributes, signing a precomputed digest, public
// key export, refusing keys that are missing, extractable or of another type.
import test from 'ava';
import { constants, createHash, createPublicKey, randomBytes, verify } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { Pkcs11Backend, type Pkcs11BackendOptions } from '../../src/backends/pkcs11/pkcs11-backend.js';
import { exportPublicKey } from '../../src/backends/pkcs11/public-key-codec.js';
import type { KeyBackend, SignatureScheme } from '../../src/core/key-backend.js';
import type { KeySpec } from '../../src/core/key-types.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSoftHsmToken, openRawSession } from '../support/softhsm-token.js';
import { runKeyBackendContract } from './key-backend-contract.js';

const token = createSoftHsmToken();
const prefixOf = new WeakMap<KeyBackend, string>();
let prefixes = 0;

async function openBackend(prefix: string, extra: Partial<Pkcs11BackendOptions> = {}): Promise<Pkcs11Backend> {
  const backend = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: prefix,
    createMissingKeys: true,
    logger: silentLogger,
    ...extra,
  });
  await backend.open();
  prefixOf.set(backend, prefix);
  return backend;
}

runKeyBackendContract('pkcs11', {
  create: async () => openBackend(`contract-${prefixes++}`),
  reopen: async (previous) => openBackend(prefixOf.get(previous)!),
  cleanup: async () => token.cleanup(),
});

const b = (type: number) => ({ type });
const flag = (value: Buffer | undefined) => value !== undefined && value.length > 0 && value[0] !== 0;
const ulong = (value: Buffer | undefined) => (value === undefined ? -1 : Number(value.readBigUInt64LE(0)));
const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const SPECS: KeySpec[] = [
  { keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' },
  { keyId: 'mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'hsm' },
  { keyId: 'ed', purpose: 'sign', algorithm: 'ed25519', backend: 'hsm' },
  { keyId: 'p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'hsm' },
  { keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'hsm' },
];

/** One backend with every kind of key, shared by the tests below that only read. */
const shared = (async () => {
  const backend = await openBackend('shared');
  for (const spec of SPECS) await backend.ensureKey(spec);
  return backend;
})();
test.after.always(async () => (await shared.catch(() => undefined))?.close());

test('key objects are generated in the token with the policy attributes: sensitive, never extractable, one use each', async (t) => {
  await shared;
  const raw = await openRawSession(token);
  t.teardown(() => raw.close());
  const { api, session } = raw;
  const read = (handle: pkcs11js.Handle, types: number[]) =>
    new Map(api.C_GetAttributeValue(session, handle, types.map(b)).map((a) => [a.type, a.value]));
  const P = pkcs11js;
  for (const spec of SPECS) {
    const label = `shared/${spec.keyId}/v1`;
    const handles = raw.find(label);
    const classes = handles.map((h) => ulong(read(h, [P.CKA_CLASS]).get(P.CKA_CLASS))).sort();
    const secretKey = handles.find((h) => ulong(read(h, [P.CKA_CLASS]).get(P.CKA_CLASS)) === P.CKO_SECRET_KEY);
    const privateKey = handles.find((h) => ulong(read(h, [P.CKA_CLASS]).get(P.CKA_CLASS)) === P.CKO_PRIVATE_KEY);
    const publicKey = handles.find((h) => ulong(read(h, [P.CKA_CLASS]).get(P.CKA_CLASS)) === P.CKO_PUBLIC_KEY);
    const keyHandle = secretKey ?? privateKey;
    t.truthy(keyHandle, `${label} exists`);
    if (spec.purpose === 'sign') t.deepEqual(classes, [P.CKO_PUBLIC_KEY, P.CKO_PRIVATE_KEY].sort(), `${label}: a key pair`);
    else t.deepEqual(classes, [P.CKO_SECRET_KEY], `${label}: one secret key`);
    const attrs = read(keyHandle!, [
      P.CKA_TOKEN,
      P.CKA_PRIVATE,
      P.CKA_SENSITIVE,
      P.CKA_ALWAYS_SENSITIVE,
      P.CKA_EXTRACTABLE,
      P.CKA_NEVER_EXTRACTABLE,
      P.CKA_LOCAL,
      P.CKA_DERIVE,
      P.CKA_UNWRAP,
      P.CKA_ID,
      P.CKA_LABEL,
    ]);
    for (const [type, name, want] of [
      [P.CKA_TOKEN, 'CKA_TOKEN', true],
      [P.CKA_PRIVATE, 'CKA_PRIVATE', true],
      [P.CKA_SENSITIVE, 'CKA_SENSITIVE', true],
      [P.CKA_ALWAYS_SENSITIVE, 'CKA_ALWAYS_SENSITIVE', true],
      [P.CKA_EXTRACTABLE, 'CKA_EXTRACTABLE', false],
      [P.CKA_NEVER_EXTRACTABLE, 'CKA_NEVER_EXTRACTABLE', true],
      [P.CKA_LOCAL, 'CKA_LOCAL (generated in the token)', true],
      [P.CKA_DERIVE, 'CKA_DERIVE', false],
      [P.CKA_UNWRAP, 'CKA_UNWRAP', false],
    ] as const) {
      t.is(flag(attrs.get(type)), want, `${label} ${name}`);
    }
    t.is(attrs.get(P.CKA_LABEL)!.toString(), label);
    t.deepEqual(attrs.get(P.CKA_ID), Buffer.from(label), 'CKA_ID is the label bytes');
    const uses = read(keyHandle!, secretKey !== undefined ? [P.CKA_ENCRYPT, P.CKA_DECRYPT, P.CKA_SIGN, P.CKA_WRAP] : [P.CKA_DECRYPT, P.CKA_SIGN]);
    const expected = {
      encrypt: { enc: true, dec: true, sign: false },
      mac: { enc: false, dec: false, sign: true },
      sign: { enc: false, dec: false, sign: true },
    }[spec.purpose];
    if (spec.purpose !== 'sign') t.is(flag(uses.get(P.CKA_ENCRYPT)), expected.enc, `${label} CKA_ENCRYPT`);
    t.is(flag(uses.get(P.CKA_DECRYPT)), expected.dec, `${label} CKA_DECRYPT`);
    t.is(flag(uses.get(P.CKA_SIGN)), expected.sign, `${label} CKA_SIGN`);
    if (secretKey !== undefined) {
      t.is(flag(uses.get(P.CKA_WRAP)), false, `${label} CKA_WRAP`);
      t.is(ulong(read(secretKey, [P.CKA_VALUE_LEN]).get(P.CKA_VALUE_LEN)), 32, `${label} is 256 bits`);
      t.is(ulong(read(secretKey, [P.CKA_KEY_TYPE]).get(P.CKA_KEY_TYPE)), spec.purpose === 'encrypt' ? P.CKK_AES : P.CKK_GENERIC_SECRET);
    }
    const secretPart = spec.algorithm === 'rsa-4096' ? P.CKA_PRIVATE_EXPONENT : P.CKA_VALUE;
    const value = t.throws(() => api.C_GetAttributeValue(session, keyHandle!, [b(secretPart)]));
    t.regex(value!.message, /CKR_ATTRIBUTE_SENSITIVE/, `${label}: the key value cannot be read`);
    if (publicKey !== undefined) t.true(flag(read(publicKey, [P.CKA_VERIFY]).get(P.CKA_VERIFY)), `${label} public CKA_VERIFY`);
  }
});

test('a missing key with create_missing_keys false refuses, naming the key and the label looked for', async (t) => {
  const backend = await openBackend('strict', { createMissingKeys: false });
  t.teardown(() => backend.close());
  const err = await t.throwsAsync(backend.ensureKey({ keyId: 'payments', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' }));
  t.is(codeOf(err), 'failed-precondition');
  t.regex(err!.message, /key "payments" does not exist on token ".+" \(looked for objects labelled "strict\/payments\/v<N>"/);
  t.regex(err!.message, /pkcs11:token=[^;]+;object=strict%2Fpayments%2Fv1/);
  t.regex(err!.message, /create_missing_keys is false/);
});

test('an existing key that is extractable, too short, duplicated, of another CKA_ID or of another type is refused (failed-precondition)', async (t) => {
  const raw = await openRawSession(token);
  t.teardown(() => raw.close());
  const P = pkcs11js;
  const aesObject = (label: string, value: Buffer, extra: pkcs11js.Template = [], id = Buffer.from(label)) =>
    raw.api.C_CreateObject(raw.session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_TOKEN, value: true },
      { type: P.CKA_LABEL, value: label },
      { type: P.CKA_ID, value: id },
      { type: P.CKA_VALUE, value },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
      ...extra,
    ]);
  aesObject('byhand/weak/v1', randomBytes(32), [
    { type: P.CKA_SENSITIVE, value: false },
    { type: P.CKA_EXTRACTABLE, value: true },
  ]);
  aesObject('byhand/short/v1', randomBytes(16), [{ type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }]);
  aesObject('byhand/twice/v1', randomBytes(32), [{ type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }]);
  aesObject('byhand/twice/v1', randomBytes(32), [{ type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }]);
  aesObject('byhand/otherid/v1', randomBytes(32), [{ type: P.CKA_SENSITIVE, value: true }, { type: P.CKA_EXTRACTABLE, value: false }], Buffer.from('xyz'));
  aesObject('byhand/good/v1', randomBytes(32), [
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false },
    { type: P.CKA_SIGN, value: false },
    { type: P.CKA_WRAP, value: false },
    { type: P.CKA_UNWRAP, value: false },
    { type: P.CKA_DERIVE, value: false },
  ]);
  aesObject('byhand/lax/v1', randomBytes(32), [
    { type: P.CKA_SENSITIVE, value: true },
    { type: P.CKA_EXTRACTABLE, value: false },
    { type: P.CKA_SIGN, value: false },
    { type: P.CKA_WRAP, value: true },
    { type: P.CKA_UNWRAP, value: false },
    { type: P.CKA_DERIVE, value: true },
  ]);

  const warnings: Array<Record<string, unknown>> = [];
  const logger = { ...silentLogger, warn: (o: object | string) => void warnings.push(typeof o === 'string' ? { msg: o } : (o as Record<string, unknown>)), child: () => logger };
  const backend = await openBackend('byhand', { createMissingKeys: false, logger });
  t.teardown(() => backend.close());
  const spec = (keyId: string): KeySpec => ({ keyId, purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' });
  const weak = await t.throwsAsync(backend.ensureKey(spec('weak')));
  t.is(codeOf(weak), 'failed-precondition');
  t.regex(weak!.message, /object "byhand\/weak\/v1" .* does not meet the key policy: CKA_SENSITIVE is false, CKA_EXTRACTABLE is true/);
  const short = await t.throwsAsync(backend.ensureKey(spec('short')));
  t.is(codeOf(short), 'failed-precondition');
  t.regex(short!.message, /exists as AES-128 secret key .* declares encrypt\/aes-256-gcm/);
  const twice = await t.throwsAsync(backend.ensureKey(spec('twice')));
  t.is(codeOf(twice), 'failed-precondition');
  t.regex(twice!.message, /2 secret key objects are labelled "byhand\/twice\/v1"/);
  const otherId = await t.throwsAsync(backend.ensureKey(spec('otherid')));
  t.is(codeOf(otherId), 'failed-precondition');
  t.regex(otherId!.message, /object "byhand\/otherid\/v1" .* has CKA_ID 78797a \(hex\), not the label's bytes 627968616e642f6f7468657269642f7631/);
  const asMac = await t.throwsAsync(backend.ensureKey({ keyId: 'good', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'hsm' }));
  t.is(codeOf(asMac), 'failed-precondition');
  t.regex(asMac!.message, /exists as encrypt\/aes-256-gcm .* declares mac\/hmac-sha256/);
  // A key made by hand that meets the policy is adopted, and works.
  const good = await backend.ensureKey(spec('good'));
  t.deepEqual(good.versions.map((v) => v.version), [1]);
  const dk = await backend.generateDataKey('good', 1);
  t.true((await backend.unwrapDataKey('good', 1, dk.wrapped)).expose().equals(dk.plaintext.expose()));
  t.deepEqual(warnings, [], 'a key that allows only its one use draws no warning');
  // One that also allows wrap and derive is used, with a warning naming the extra uses.
  await backend.ensureKey(spec('lax'));
  t.like(warnings[0], { event: 'pkcs11.key_permissive', key_id: 'lax', key_version: 1 });
  t.deepEqual(warnings[0]?.['extra_uses'], ['wrap', 'derive']);
});

const SCHEMES: ReadonlyArray<[string, SignatureScheme]> = [
  ['p256', 'ecdsa-p256-sha256'],
  ['rsa', 'rsa-pkcs1-sha256'],
  ['rsa', 'rsa-pss-sha256'],
];

function nodeVerifies(scheme: SignatureScheme, message: Buffer, signature: Buffer, key: import('node:crypto').KeyObject): boolean {
  return verify(scheme === 'ed25519' ? null : 'sha256', message, {
    key,
    dsaEncoding: 'ieee-p1363',
    ...(scheme === 'rsa-pss-sha256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
  }, signature);
}

test('a precomputed SHA-256 digest signs like its message in every scheme that takes one', async (t) => {
  const backend = await shared;
  const message = randomBytes(1000);
  const digest = createHash('sha256').update(message).digest();
  for (const [keyId, scheme] of SCHEMES) {
    const publicKey = await backend.publicKey(keyId, 1);
    const fromDigest = await backend.sign(keyId, 1, scheme, { digest });
    t.true(nodeVerifies(scheme, message, fromDigest, publicKey), `${scheme} over a digest verifies as a signature of the message`);
    t.false(nodeVerifies(scheme, Buffer.concat([message, Buffer.from('!')]), fromDigest, publicKey));
    if (scheme === 'rsa-pkcs1-sha256') {
      // PKCS#1 v1.5 is deterministic: CKM_RSA_PKCS over the DigestInfo must give the same bytes.
      t.deepEqual(fromDigest, await backend.sign(keyId, 1, scheme, { message }));
    }
    if (scheme === 'ecdsa-p256-sha256') t.is(fromDigest.byteLength, 64);
  }
  const ed = await t.throwsAsync(backend.sign('ed', 1, 'ed25519', { digest }));
  t.is(codeOf(ed), 'invalid-argument');
  const short = await t.throwsAsync(backend.sign('p256', 1, 'ecdsa-p256-sha256', { digest: digest.subarray(0, 20) }));
  t.is(codeOf(short), 'invalid-argument');
  t.regex(short!.message, /SHA-256 digest is 32 bytes, got 20/);
});

test('public keys come out as SPKI PEM and JWK that describe the same key', async (t) => {
  const backend = await shared;
  const expected: Record<string, { kty: string; crv?: string }> = {
    ed: { kty: 'OKP', crv: 'Ed25519' },
    p256: { kty: 'EC', crv: 'P-256' },
    rsa: { kty: 'RSA' },
  };
  for (const [keyId, shape] of Object.entries(expected)) {
    const key = await backend.publicKey(keyId, 1);
    const { spkiPem, jwk } = exportPublicKey(key);
    t.regex(spkiPem, /^-----BEGIN PUBLIC KEY-----\n/);
    t.true(createPublicKey(spkiPem).equals(key), `${keyId}: SPKI round-trips`);
    t.true(createPublicKey({ key: jwk, format: 'jwk' }).equals(key), `${keyId}: JWK round-trips`);
    t.is(jwk.kty, shape.kty);
    if (shape.crv !== undefined) t.is(jwk.crv, shape.crv);
    if (shape.kty === 'RSA') {
      t.is(Buffer.from(jwk.n!, 'base64url').byteLength, 512, 'a 4096-bit modulus');
      t.is(jwk.e, 'AQAB');
    }
    t.is(jwk.d, undefined, 'no private part');
  }
});

test('a wrapped DEK is 61 bytes: format 1, a fresh token-made IV, then GCM; a changed format byte fails authentication', async (t) => {
  const backend = await shared;
  const a = await backend.generateDataKey('kek', 1);
  const c = await backend.generateDataKey('kek', 1);
  t.is(a.wrapped.byteLength, 61);
  t.is(a.wrapped[0], 1);
  t.false(Buffer.from(a.wrapped.subarray(1, 13)).equals(Buffer.from(c.wrapped.subarray(1, 13))), 'IVs differ');
  const otherFormat = Buffer.from(a.wrapped);
  otherFormat[0] = 2;
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('kek', 1, otherFormat))), 'decryption-failed');
  const longer = Buffer.concat([a.wrapped, Buffer.from([0])]);
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('kek', 1, longer))), 'decryption-failed');
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('kek', 7, a.wrapped))), 'not-found');
});

test('a version made by another instance is found on first use; a version destroyed under a running backend is not-found', async (t) => {
  const first = await openBackend('shared-life');
  const second = await openBackend('shared-life');
  t.teardown(async () => {
    await first.close();
    await second.close();
  });
  const spec: KeySpec = { keyId: 'life', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' };
  await first.ensureKey(spec);
  await second.ensureKey(spec);
  const v1 = await second.generateDataKey('life', 1);
  t.is((await first.rotateKey('life')).primaryVersion, 2);
  const v2 = await first.generateDataKey('life', 2);
  t.true((await second.unwrapDataKey('life', 2, v2.wrapped)).expose().equals(v2.plaintext.expose()), 'the second instance finds v2');
  t.is((await second.rotateKey('life')).primaryVersion, 3, 'never reuses a version number another instance made');

  const raw = await openRawSession(token);
  t.teardown(() => raw.close());
  const [handle] = raw.find('shared-life/life/v1');
  raw.api.C_DestroyObject(raw.session, handle!);
  const gone = await t.throwsAsync(first.unwrapDataKey('life', 1, v1.wrapped));
  t.is(codeOf(gone), 'not-found');
  t.regex(gone!.message, /version 1 of key "life" does not exist on token ".+" \(no object labelled "shared-life\/life\/v1"\)/);
  t.true(first.isReady(), 'a destroyed key is not an outage');
  t.true((await first.unwrapDataKey('life', 2, v2.wrapped)).expose().equals(v2.plaintext.expose()));
});

test('key generation is logged with the object URI and nothing secret', async (t) => {
  const lines: Array<{ level: string; obj: Record<string, unknown>; msg: string | undefined }> = [];
  const logger = {
    debug: (o: object | string, m?: string) => lines.push({ level: 'debug', obj: typeof o === 'string' ? {} : (o as Record<string, unknown>), msg: typeof o === 'string' ? o : m }),
    info: (o: object | string, m?: string) => lines.push({ level: 'info', obj: typeof o === 'string' ? {} : (o as Record<string, unknown>), msg: typeof o === 'string' ? o : m }),
    warn: (o: object | string, m?: string) => lines.push({ level: 'warn', obj: typeof o === 'string' ? {} : (o as Record<string, unknown>), msg: typeof o === 'string' ? o : m }),
    error: (o: object | string, m?: string) => lines.push({ level: 'error', obj: typeof o === 'string' ? {} : (o as Record<string, unknown>), msg: typeof o === 'string' ? o : m }),
    child: () => logger,
  };
  const backend = await openBackend('logged', { logger });
  t.teardown(() => backend.close());
  await backend.ensureKey({ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' });
  await backend.rotateKey('k');
  const generated = lines.find((l) => l.obj['event'] === 'key.generated');
  t.like(generated?.obj, { key_id: 'k', key_version: 1, algorithm: 'aes-256-gcm', object: `pkcs11:token=${token.label};object=logged%2Fk%2Fv1` });
  t.like(lines.find((l) => l.obj['event'] === 'key.rotated')?.obj, { key_id: 'k', key_version: 2 });
  const all = JSON.stringify(lines);
  t.false(all.includes(token.pin), 'no PIN in the logs');
});
