// Sign, Verify, ComputeMac, VerifyMac, GetPublicKey and SignJwt over the real socket on
// the local backend, checked by code we did not write: node:crypto, jose and the
// openssl command.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { spawnSync } from 'node:child_process';
import { constants, createHash, createPublicKey, verify } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createLocalJWKSet, jwtVerify } from 'jose';
import { SignatureAlgorithm, SignatureEncoding } from '../../src/wire/gen/keyward/v1/key_service_pb.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { DEFAULT_TEST_KEYS, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

let d: TestDaemon;
test.before(async () => {
  d = await startTestDaemon({
    overrides: {
      keys: [
        ...DEFAULT_TEST_KEYS,
        { id: 'p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'local' },
        { id: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'local' },
        { id: 'rotating', purpose: 'sign', algorithm: 'ed25519', backend: 'local' },
      ],
      limits: { max_plaintext_bytes: 4096 },
    },
  });
});
test.after.always(async () => {
  await d?.dispose();
});

const message = Buffer.from('release artifact sha256:0123');
const msg = (value: Uint8Array) => ({ case: 'message' as const, value });
const digestOf = (value: Uint8Array) => ({ case: 'digest' as const, value });

async function pem(keyId: string, keyVersion = 0) {
  return (await d.client.getPublicKey({ keyId, keyVersion })).publicKeyPem;
}

const CASES = [
  { keyId: 'signer', algorithm: SignatureAlgorithm.ED25519, nodeAlg: null, options: {} },
  { keyId: 'p256', algorithm: SignatureAlgorithm.ECDSA_P256_SHA256, nodeAlg: 'sha256', options: { dsaEncoding: 'der' as const } },
  { keyId: 'rsa', algorithm: SignatureAlgorithm.RSA_PKCS1_SHA256, nodeAlg: 'sha256', options: {} },
  { keyId: 'rsa', algorithm: SignatureAlgorithm.RSA_PSS_SHA256, nodeAlg: 'sha256', options: { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } },
];

for (const c of CASES) {
  test(`${c.keyId} ${SignatureAlgorithm[c.algorithm]}: node:crypto verifies the signature with the PEM from GetPublicKey; Verify agrees`, async (t) => {
    const signed = await d.client.sign({ keyId: c.keyId, input: msg(message), algorithm: c.algorithm });
    t.is(signed.keyVersion, 1);
    const key = createPublicKey(await pem(c.keyId));
    t.true(verify(c.nodeAlg, message, { key, ...c.options }, signed.signature));
    t.true((await d.client.verify({ keyId: c.keyId, input: msg(message), signature: signed.signature, algorithm: c.algorithm })).valid);
    t.false((await d.client.verify({ keyId: c.keyId, input: msg(Buffer.from('tampered')), signature: signed.signature, algorithm: c.algorithm })).valid);
  });
}

test('ECDSA signatures come as DER by default and as P1363 on request', async (t) => {
  const der = await d.client.sign({ keyId: 'p256', input: msg(message) });
  t.is(der.signature[0], 0x30);
  const p1363 = await d.client.sign({ keyId: 'p256', input: msg(message), encoding: SignatureEncoding.P1363 });
  t.is(p1363.signature.byteLength, 64);
  const key = createPublicKey(await pem('p256'));
  t.true(verify('sha256', message, { key, dsaEncoding: 'ieee-p1363' }, p1363.signature));
  t.true((await d.client.verify({ keyId: 'p256', input: msg(message), signature: p1363.signature, encoding: SignatureEncoding.P1363 })).valid);
  t.false((await d.client.verify({ keyId: 'p256', input: msg(message), signature: p1363.signature })).valid, 'P1363 bytes are not DER');
});

test('openssl verifies an Ed25519, a P-256 and an RSA signature with the PEM from GetPublicKey', async (t) => {
  const dir = d.dir;
  writeFileSync(join(dir, 'message.bin'), message);
  for (const [keyId, algorithm, args] of [
    ['signer', SignatureAlgorithm.ED25519, ['pkeyutl', '-verify', '-rawin']],
    ['p256', SignatureAlgorithm.ECDSA_P256_SHA256, ['dgst', '-sha256', '-verify']],
    ['rsa', SignatureAlgorithm.RSA_PKCS1_SHA256, ['dgst', '-sha256', '-verify']],
  ] as const) {
    const signed = await d.client.sign({ keyId, input: msg(message), algorithm });
    const pemFile = join(dir, `${keyId}.pem`);
    const sigFile = join(dir, `${keyId}.sig`);
    writeFileSync(pemFile, await pem(keyId));
    writeFileSync(sigFile, signed.signature);
    const argv =
      args[0] === 'pkeyutl'
        ? [...args, '-pubin', '-inkey', pemFile, '-in', join(dir, 'message.bin'), '-sigfile', sigFile]
        : [...args, pemFile, '-signature', sigFile, join(dir, 'message.bin')];
    const run = spawnSync('openssl', argv);
    t.is(run.status, 0, `${keyId}: ${run.stderr.toString()}`);
    t.regex(run.stdout.toString(), /Verified OK|Signature Verified Successfully/);
  }
});

test('SignJwt: jose verifies EdDSA, ES256, RS256 and PS256 JWTs against the JWKS from GetPublicKey', async (t) => {
  for (const [keyId, headerJson, alg] of [
    ['signer', '', 'EdDSA'],
    ['p256', '', 'ES256'],
    ['rsa', '', 'RS256'],
    ['rsa', '{"alg":"PS256"}', 'PS256'],
  ] as const) {
    const { jwt, keyVersion } = await d.client.signJwt({ keyId, claimsJson: JSON.stringify({ sub: 'svc-a', aud: 'api' }), headerJson });
    const jwks = createLocalJWKSet(JSON.parse((await d.client.getPublicKey({ keyId })).jwks));
    const { payload, protectedHeader } = await jwtVerify(jwt, jwks, { audience: 'api' });
    t.is(payload.sub, 'svc-a');
    t.is(protectedHeader.alg, alg);
    t.is(protectedHeader.kid, `${keyId}/v${keyVersion}`);
  }
});

test('after rotation new signatures use the new version and Verify still accepts the old one', async (t) => {
  const old = await d.client.sign({ keyId: 'rotating', input: msg(message) });
  const { key } = await d.admin.rotateKey({ keyId: 'rotating' });
  const fresh = await d.client.sign({ keyId: 'rotating', input: msg(message) });
  t.is(fresh.keyVersion, key!.primaryVersion);
  t.not(fresh.keyVersion, old.keyVersion);
  t.true((await d.client.verify({ keyId: 'rotating', input: msg(message), signature: old.signature, keyVersion: old.keyVersion })).valid);
  t.false((await d.client.verify({ keyId: 'rotating', input: msg(message), signature: old.signature })).valid, 'not by the primary version');
  const jwks = JSON.parse((await d.client.getPublicKey({ keyId: 'rotating' })).jwks) as { keys: { kid: string }[] };
  t.deepEqual(jwks.keys.map((k) => k.kid).sort(), [`rotating/v${old.keyVersion}`, `rotating/v${fresh.keyVersion}`].sort());
});

test('ComputeMac / VerifyMac: a matching HMAC-SHA-256 verifies, any change does not', async (t) => {
  const data = Buffer.from('{"event":"paid"}');
  const { mac, keyVersion } = await d.client.computeMac({ keyId: 'hmac', data });
  t.is(mac.byteLength, 32);
  t.true((await d.client.verifyMac({ keyId: 'hmac', data, mac })).valid);
  t.true((await d.client.verifyMac({ keyId: 'hmac', data, mac, keyVersion })).valid);
  const flipped = Buffer.from(mac);
  flipped[0]! ^= 1;
  t.false((await d.client.verifyMac({ keyId: 'hmac', data, mac: flipped })).valid);
  t.false((await d.client.verifyMac({ keyId: 'hmac', data, mac: mac.subarray(0, 16) })).valid);
  t.false((await d.client.verifyMac({ keyId: 'hmac', data: Buffer.from('{"event":"paid!"}'), mac })).valid);
});

test('purpose binding: encryption keys refuse Sign and MAC, signing keys refuse Encrypt and MAC, MAC keys refuse both → FAILED_PRECONDITION', async (t) => {
  await rejectsWithCode(t, d.client.sign({ keyId: 'alpha', input: msg(message) }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.computeMac({ keyId: 'alpha', data: message }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'signer', plaintext: message }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.computeMac({ keyId: 'signer', data: message }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.sign({ keyId: 'hmac', input: msg(message) }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'hmac', plaintext: message }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.getPublicKey({ keyId: 'hmac' }), status.FAILED_PRECONDITION);
});

test('bad input: unsupported algorithm, wrong digest length, oversized message → INVALID_ARGUMENT; malformed signature → valid false', async (t) => {
  await rejectsWithCode(t, d.client.sign({ keyId: 'signer', input: msg(message), algorithm: SignatureAlgorithm.RSA_PSS_SHA256 }), status.INVALID_ARGUMENT, /not supported by key "signer"/);
  await rejectsWithCode(t, d.client.sign({ keyId: 'p256', input: digestOf(Buffer.alloc(31)) }), status.INVALID_ARGUMENT, 'digest must be a 32-byte SHA-256 digest, got 31 bytes');
  await rejectsWithCode(t, d.client.sign({ keyId: 'signer', input: digestOf(createHash('sha256').update(message).digest()) }), status.INVALID_ARGUMENT, /Ed25519 signs messages, not digests/);
  await rejectsWithCode(t, d.client.sign({ keyId: 'signer', input: msg(Buffer.alloc(4097)) }), status.INVALID_ARGUMENT, 'message is 4097 bytes; the limit is 4096 bytes (limits.max_plaintext_bytes)');
  await rejectsWithCode(t, d.client.sign({ keyId: 'signer' }), status.INVALID_ARGUMENT, 'message or digest is required');
  await rejectsWithCode(t, d.client.signJwt({ keyId: 'signer', claimsJson: '[1]' }), status.INVALID_ARGUMENT, 'claims_json must be a JSON object');
  await rejectsWithCode(t, d.client.signJwt({ keyId: 'signer', claimsJson: '{', headerJson: '' }), status.INVALID_ARGUMENT, 'claims_json is not valid JSON');
  await rejectsWithCode(t, d.client.signJwt({ keyId: 'p256', claimsJson: '{}', headerJson: '{"alg":"RS256"}' }), status.INVALID_ARGUMENT, /alg "RS256" does not fit a ecdsa-p256 key/);
  await rejectsWithCode(t, d.client.getPublicKey({ keyId: 'signer', keyVersion: 99 }), status.NOT_FOUND);
  for (const signature of [Buffer.alloc(0), Buffer.from('not a signature'), Buffer.alloc(64, 0xff), Buffer.from([0x30, 0x81, 0xff])]) {
    for (const keyId of ['signer', 'p256', 'rsa']) {
      t.false((await d.client.verify({ keyId, input: msg(message), signature })).valid, `${keyId} ${signature.toString('hex')}`);
    }
  }
});

test('the local backend signs and verifies messages only: a digest → UNIMPLEMENTED (HSM and Vault sign digests)', async (t) => {
  const digest = createHash('sha256').update(message).digest();
  await rejectsWithCode(t, d.client.sign({ keyId: 'p256', input: digestOf(digest) }), status.UNIMPLEMENTED, 'the local backend signs messages, not precomputed digests');
  const signed = await d.client.sign({ keyId: 'p256', input: msg(message) });
  await rejectsWithCode(t, d.client.verify({ keyId: 'p256', input: digestOf(digest), signature: signed.signature }), status.UNIMPLEMENTED, 'the local backend cannot verify a precomputed digest: send message');
});
