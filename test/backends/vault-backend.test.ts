// The Vault backend against the shared backend contract — on the test Vault, or on a real
// Vault when VAULT_ADDR and VAULT_TOKEN are set — plus what is its own: the wrapped DEK is
// Transit's ciphertext and binds key and version, both DEK sources, ensureKey's type
// checks and create_keys, prehashed signing, and the configurable transit mount.
import test from 'ava';
import { constants, createHash, verify } from 'node:crypto';
import type { VaultBackend } from '../../src/backends/vault/vault-backend.js';
import type { KeyBackend } from '../../src/core/key-backend.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { openVaultBackend, startVaultTarget, uniquePrefix, vaultBackendEntry, vaultSettings } from '../support/vault-server/backend-harness.js';
import { runKeyBackendContract } from './key-backend-contract.js';

const target = await startVaultTarget();
const CONTRACT_KEYS = ['contract-kek', 'contract-other', 'contract-ed25519', 'contract-p256', 'contract-rsa', 'contract-mac'];
const prefixOf = new WeakMap<KeyBackend, string>();

async function onPrefix(prefix: string, overrides: Record<string, unknown> = {}): Promise<VaultBackend> {
  const backend = await openVaultBackend(vaultSettings(vaultBackendEntry(target, { key_name_prefix: prefix, ...overrides })));
  prefixOf.set(backend, prefix);
  return backend;
}

runKeyBackendContract('vault', {
  create: async () => {
    const prefix = uniquePrefix('contract');
    for (const id of CONTRACT_KEYS) target.created(`${prefix}${id}`);
    return onPrefix(prefix);
  },
  reopen: async (previous) => onPrefix(prefixOf.get(previous)!),
  cleanup: () => target.close(),
});

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const enc = (keyId: string) => ({ keyId, purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }) as const;

async function fresh(t: import('ava').ExecutionContext, overrides: Record<string, unknown> = {}): Promise<{ backend: VaultBackend; prefix: string }> {
  const prefix = uniquePrefix();
  const backend = await onPrefix(prefix, overrides);
  t.teardown(() => backend.close());
  return { backend, prefix };
}

test('the wrapped DEK is the Transit ciphertext vault:vN:… of the key version, and Vault decrypts it to the DEK', async (t) => {
  const { backend, prefix } = await fresh(t);
  await backend.ensureKey(enc('k'));
  target.created(`${prefix}k`);
  await backend.rotateKey('k');
  for (const version of [1, 2]) {
    const dk = await backend.generateDataKey('k', version);
    t.regex(Buffer.from(dk.wrapped).toString('utf8'), new RegExp(`^vault:v${version}:[A-Za-z0-9+/]+=*$`));
    if (target.server) {
      // Code we did not write decides: the test Vault's own decrypt gives the DEK back.
      const out = target.server.transit().decrypt(`${prefix}k`, { ciphertext: Buffer.from(dk.wrapped).toString('utf8') });
      t.true(Buffer.from(out['plaintext'] as string, 'base64').equals(dk.plaintext.expose()));
    }
  }
});

test('both DEK sources work, per key: Vault datakey and local CSPRNG + transit/encrypt; each unwraps the other', async (t) => {
  const { backend, prefix } = await fresh(t, { data_key_source: 'vault', data_key_source_by_key: { 'local-dek': 'local' } });
  await backend.ensureKey(enc('vault-dek'));
  await backend.ensureKey(enc('local-dek'));
  target.created(`${prefix}vault-dek`);
  target.created(`${prefix}local-dek`);
  const fromVault = await backend.generateDataKey('vault-dek', 1);
  const fromLocal = await backend.generateDataKey('local-dek', 1);
  if (target.server) {
    t.is(target.server.count((r) => r.path === `transit/datakey/plaintext/${prefix}vault-dek`), 1, 'one datakey call, for vault-dek');
    t.is(target.server.count((r) => r.path.endsWith(`/${prefix}local-dek`) && r.path.includes('/datakey/')), 0, 'none for local-dek');
    t.is(target.server.count((r) => r.path === `transit/encrypt/${prefix}local-dek`), 1, 'local-dek is sealed with transit/encrypt');
  }
  t.true((await backend.unwrapDataKey('vault-dek', 1, fromVault.wrapped)).expose().equals(fromVault.plaintext.expose()));
  t.true((await backend.unwrapDataKey('local-dek', 1, fromLocal.wrapped)).expose().equals(fromLocal.plaintext.expose()));
  // The source is a generation choice only: a backend with the other default unwraps both.
  const other = await onPrefix(prefix, { data_key_source: 'local' });
  t.teardown(() => other.close());
  await other.ensureKey(enc('vault-dek'));
  await other.ensureKey(enc('local-dek'));
  t.true((await other.unwrapDataKey('vault-dek', 1, fromVault.wrapped)).expose().equals(fromVault.plaintext.expose()));
  t.true((await other.unwrapDataKey('local-dek', 1, fromLocal.wrapped)).expose().equals(fromLocal.plaintext.expose()));
});

test('a wrapped DEK whose version label differs from the one asked for never reaches Vault; relabelled or of another key, Vault refuses it: all decryption-failed', async (t) => {
  const { backend, prefix } = await fresh(t);
  await backend.ensureKey(enc('a'));
  await backend.ensureKey(enc('b'));
  target.created(`${prefix}a`);
  target.created(`${prefix}b`);
  await backend.rotateKey('a');
  const dk = await backend.generateDataKey('a', 1);
  const text = Buffer.from(dk.wrapped).toString('utf8');
  const decrypts = () => target.server?.count((r) => r.path === `transit/decrypt/${prefix}a` || r.path === `transit/decrypt/${prefix}b`) ?? 0;
  const before = decrypts();
  const relabelled = Buffer.from(text.replace(/^vault:v1:/, 'vault:v2:'));
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('a', 2, relabelled))), 'decryption-failed', 'v2 label on v1 bytes: Vault picks v2 material, GCM fails');
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('a', 2, dk.wrapped))), 'decryption-failed', 'asked v2, the ciphertext says v1');
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('b', 1, dk.wrapped))), 'decryption-failed');
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('a', 1, Buffer.from('not a ciphertext')))), 'decryption-failed');
  t.is(codeOf(await t.throwsAsync(backend.unwrapDataKey('a', 1, Buffer.alloc(2000, 0x41)))), 'decryption-failed');
  if (target.server) t.is(decrypts() - before, 2, 'only the relabelled v2 and the other key went to Vault');
});

test('ensureKey: an existing key of another type, or a derived key, is failed-precondition; create_keys=false refuses a missing key', async (t) => {
  const { backend, prefix } = await fresh(t);
  await backend.ensureKey({ keyId: 'signer', purpose: 'sign', algorithm: 'ed25519', backend: 'vault' });
  target.created(`${prefix}signer`);
  t.is(codeOf(await t.throwsAsync(backend.ensureKey({ keyId: 'signer', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'vault' }))), 'failed-precondition');
  t.is(codeOf(await t.throwsAsync(backend.ensureKey(enc('signer')))), 'failed-precondition');
  const strict = await onPrefix(prefix, { create_keys: false });
  t.teardown(() => strict.close());
  const err = await t.throwsAsync(strict.ensureKey(enc('absent')));
  t.is(codeOf(err), 'failed-precondition');
  t.regex(err!.message, /does not exist and create_keys is false; create it with type aes256-gcm96/);
  t.deepEqual((await strict.ensureKey({ keyId: 'signer', purpose: 'sign', algorithm: 'ed25519', backend: 'vault' })).primaryVersion, 1, 'existing keys are fine');
});

test('signing a SHA-256 digest (prehashed) verifies against the message, and verifyDigest agrees; Ed25519 with a digest is invalid-argument', async (t) => {
  const { backend, prefix } = await fresh(t);
  const message = Buffer.from('prehashed message');
  const digest = createHash('sha256').update(message).digest();
  const cases = [
    { keyId: 'p256', algorithm: 'ecdsa-p256', scheme: 'ecdsa-p256-sha256' },
    { keyId: 'rsa', algorithm: 'rsa-4096', scheme: 'rsa-pkcs1-sha256' },
    { keyId: 'rsa', algorithm: 'rsa-4096', scheme: 'rsa-pss-sha256' },
  ] as const;
  for (const c of cases) {
    await backend.ensureKey({ keyId: c.keyId, purpose: 'sign', algorithm: c.algorithm, backend: 'vault' });
    target.created(`${prefix}${c.keyId}`);
    const signature = await backend.sign(c.keyId, 1, c.scheme, { digest });
    const key = await backend.publicKey(c.keyId, 1);
    const ok = verify('sha256', message, {
      key,
      dsaEncoding: 'ieee-p1363',
      ...(c.scheme === 'rsa-pss-sha256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
    }, signature);
    t.true(ok, `${c.scheme} over the digest`);
    // verifyDigest (transit/verify, prehashed) agrees, and refuses another digest.
    t.true(await backend.verifyDigest(c.keyId, 1, c.scheme, digest, signature), `verifyDigest ${c.scheme}`);
    const other = createHash('sha256').update('another message').digest();
    t.false(await backend.verifyDigest(c.keyId, 1, c.scheme, other, signature));
    const fromMessage = await backend.sign(c.keyId, 1, c.scheme, { message });
    t.true(await backend.verifyDigest(c.keyId, 1, c.scheme, digest, fromMessage), 'a signature of the message verifies against its digest');
    if (c.scheme === 'rsa-pss-sha256') {
      // The salt is 32 bytes exactly: a verifier that insists on 32 accepts, one that insists on 20 does not.
      t.false(verify('sha256', message, { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 20 }, signature));
    }
  }
  await backend.ensureKey({ keyId: 'ed', purpose: 'sign', algorithm: 'ed25519', backend: 'vault' });
  target.created(`${prefix}ed`);
  t.is(codeOf(await t.throwsAsync(backend.sign('ed', 1, 'ed25519', { digest }))), 'invalid-argument');
  t.is(codeOf(await t.throwsAsync(backend.verifyDigest('ed', 1, 'ed25519', digest, Buffer.alloc(64)))), 'invalid-argument');
  t.is(codeOf(await t.throwsAsync(backend.sign('p256', 1, 'ecdsa-p256-sha256', { digest: digest.subarray(0, 20) }))), 'invalid-argument');
});

test('HMAC matches an HMAC-SHA-256 computed with the key Vault holds (test Vault only: the key is never exported)', async (t) => {
  if (!target.server) return t.pass('needs the test Vault');
  const { backend, prefix } = await fresh(t);
  await backend.ensureKey({ keyId: 'mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' });
  const data = Buffer.from('webhook body');
  const mac = await backend.mac('mac', 1, data);
  // Vault's own verify endpoint accepts it.
  const verdict = target.server.transit().verify(`${prefix}mac`, { input: data.toString('base64'), hmac: `vault:v1:${mac.toString('base64')}` }, undefined);
  t.true(verdict['valid']);
  const forged = Buffer.from(mac);
  forged[0]! ^= 1;
  t.false(target.server.transit().verify(`${prefix}mac`, { input: data.toString('base64'), hmac: `vault:v1:${forged.toString('base64')}` }, undefined)['valid']);
});

test('the transit mount and the namespace are configurable', async (t) => {
  if (target.real) return t.pass('needs the test Vault');
  const other = await startVaultTarget({ namespace: 'team-a/prod', transitMounts: ['crypto/keyward'] });
  t.teardown(() => other.close());
  const backend = await openVaultBackend(vaultSettings(vaultBackendEntry(other)));
  t.teardown(() => backend.close());
  await backend.ensureKey(enc('k'));
  const dk = await backend.generateDataKey('k', 1);
  t.true((await backend.unwrapDataKey('k', 1, dk.wrapped)).expose().equals(dk.plaintext.expose()));
  const used = other.server!.requests.filter((r) => r.path.startsWith('crypto/keyward/'));
  t.true(used.length >= 3);
  t.true(used.every((r) => r.namespace === 'team-a/prod'));
  // Without the namespace, Vault knows neither the token nor the mount: the start is refused.
  const wrongNamespace = vaultSettings(vaultBackendEntry(other, { namespace: undefined }));
  const err = await t.throwsAsync(openVaultBackend({ ...wrongNamespace, namespace: undefined }));
  t.is(codeOf(err), 'failed-precondition');
  const wrongMount = await openVaultBackend(vaultSettings(vaultBackendEntry(other, { transit_mount: 'transit' })));
  t.teardown(() => wrongMount.close());
  t.is(codeOf(await t.throwsAsync(wrongMount.ensureKey(enc('k')))), 'failed-precondition');
});

test('after close, isReady is false and every operation is unavailable without a request', async (t) => {
  const { backend, prefix } = await fresh(t);
  await backend.ensureKey({ keyId: 'mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' });
  target.created(`${prefix}mac`);
  await backend.close();
  const before = target.server?.requests.length ?? 0;
  t.false(backend.isReady());
  t.is(codeOf(await t.throwsAsync(backend.mac('mac', 1, Buffer.from('x')))), 'unavailable');
  t.is(codeOf(await t.throwsAsync(backend.describeKey('mac'))), 'unavailable');
  if (target.server) t.is(target.server.requests.length, before);
});
