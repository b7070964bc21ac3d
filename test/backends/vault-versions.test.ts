// Key versions as Vault decides them (test Vault only: these tests change keys behind the
// backend's back): a rotation or a raised min_decryption_version made in Vault reaches
// watchVersions listeners within one poll interval — measured — so the cached DEKs of a
// version Vault stopped decrypting are purged (zeroized) and it stops decrypting; a
// refused decryption teaches the backend at once; min_encryption_version is honoured.
import test, { type ExecutionContext } from 'ava';
import type { VaultBackend } from '../../src/backends/vault/vault-backend.js';
import { DecryptionDekCache } from '../../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../../src/cache/encryption-dek-cache.js';
import type { KeyVersions } from '../../src/core/key-types.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';
import { EnvelopeKeyring } from '../../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { sleep } from '../support/deferred.js';
import { isAllZero } from '../support/errors.js';
import { openVaultBackend, startVaultTarget, vaultBackendEntry, vaultSettings } from '../support/vault-server/backend-harness.js';
import type { TestVaultServer } from '../support/vault-server.js';

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const KEK = { keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' } as const;
const none = Buffer.alloc(0);

async function setup(t: ExecutionContext, pollMs: number) {
  const target = await startVaultTarget();
  const vault = target.server as TestVaultServer;
  const backend: VaultBackend = await openVaultBackend(vaultSettings(vaultBackendEntry(target, { key_poll_interval_ms: pollMs })));
  const registry = await KeyRegistry.open([KEK], new Map([['vault', backend]]));
  const encryptCache = new EncryptionDekCache({ maxAgeMs: 60_000, maxMessages: 1 << 20, maxBytes: 1 << 30, maxKeys: 16 });
  const decryptCache = new DecryptionDekCache({ ttlMs: 60_000, maxEntries: 1_000 });
  const keyring = new EnvelopeKeyring(encryptCache, decryptCache);
  t.teardown(async () => {
    encryptCache.close();
    decryptCache.close();
    await backend.close();
    await target.close();
  });
  const changes: Array<{ at: number; versions: KeyVersions }> = [];
  // The wiring the daemon needs (see the report): purge what Vault no longer decrypts.
  backend.watchVersions((keyId, versions) => {
    changes.push({ at: Date.now(), versions });
    for (const v of versions.versions) if (v.state !== 'enabled') keyring.purge(keyId, v.version);
  });
  return { vault, backend, key: registry.get('kek'), keyring, encryptCache, decryptCache, changes };
}

async function waitFor(condition: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (condition()) return true;
    await sleep(5);
  }
  return condition();
}

test('the default poll interval is at most 30 s', (t) => {
  const settings = vaultSettings({ type: 'vault', address: 'http://127.0.0.1:8200', auth: { method: 'token', token: { file: '/x' } } });
  t.true(settings.key_poll_interval_ms <= 30_000);
});

test('min_decryption_version raised in Vault: within one poll interval v1 is disabled, its DEKs purged and zeroized, and it no longer decrypts', async (t) => {
  const POLL_MS = 1_000;
  const { vault, backend, key, keyring, encryptCache, decryptCache, changes } = await setup(t, POLL_MS);
  const c1 = await keyring.seal(key, 1, Buffer.from('sealed under v1'), none);
  const wrappedV1 = parseEnvelope(c1.ciphertext).wrappedDek;
  const dekV1 = decryptCache.get('kek', 1, wrappedV1)!.expose(); // held to prove zeroization

  // A rotation done in Vault (another host, or auto_rotate_period) is noticed too.
  await vault.transit().rotate('kek');
  t.true(await waitFor(() => changes.some((c) => c.versions.primaryVersion === 2), POLL_MS + 500), 'rotation seen');
  const c2 = await keyring.seal(key, 2, Buffer.from('sealed under v2'), none);

  const raisedAt = Date.now();
  vault.transit().configure('kek', { min_decryption_version: 2 });
  t.true(await waitFor(() => decryptCache.get('kek', 1, wrappedV1) === undefined, POLL_MS * 2));
  const purgeMs = Date.now() - raisedAt;
  t.log(`purged ${purgeMs} ms after min_decryption_version was raised (poll interval ${POLL_MS} ms)`);
  t.true(purgeMs <= POLL_MS + 250, `purged within one poll interval (+250 ms): ${purgeMs} ms`);
  t.true(isAllZero(dekV1), 'the cached v1 DEK was zeroized');
  t.is(encryptCache.reserve('kek', 1, 1), undefined, 'no v1 DEK left to encrypt with either');

  const described = await backend.describeKey('kek');
  t.deepEqual(described.versions.map((v) => [v.version, v.state]), [[1, 'disabled'], [2, 'enabled']]);
  t.true(described.versions[0]!.createdAt.getTime() > 0, "v1's creation time is kept although Vault no longer lists v1");

  const decrypts = () => vault.count((r) => r.path === 'transit/decrypt/kek');
  const before = decrypts();
  t.is(codeOf(await t.throwsAsync(keyring.open(key, parseEnvelope(c1.ciphertext), none))), 'failed-precondition');
  t.is(decrypts(), before, 'refused without asking Vault');
  t.is((await keyring.open(key, parseEnvelope(c2.ciphertext), none)).plaintext.toString(), 'sealed under v2');
  // And Vault itself refuses v1: code we did not write agrees.
  t.throws(() => vault.transit().decrypt('kek', { ciphertext: Buffer.from(wrappedV1).toString('utf8') }), { message: /too old/ });
});

test('a decryption Vault refuses as too old teaches the backend at once, without waiting for the poll', async (t) => {
  const { vault, backend, changes } = await setup(t, 3_600_000);
  const dk = await backend.generateDataKey('kek', 1);
  await vault.transit().rotate('kek');
  vault.transit().configure('kek', { min_decryption_version: 2 });
  const err = await t.throwsAsync(backend.unwrapDataKey('kek', 1, dk.wrapped));
  t.is(codeOf(err), 'failed-precondition');
  t.regex(err!.message, /min_decryption_version/);
  t.true(await waitFor(() => changes.some((c) => c.versions.versions[0]?.state === 'disabled'), 500), 'watchers told within 500 ms');
  t.is(codeOf(await t.throwsAsync(backend.generateDataKey('kek', 1))), 'failed-precondition', 'no new DEKs under a disabled version');
});

test('a DEK wrapped under a version rotated elsewhere unwraps at once, without waiting for the poll', async (t) => {
  const { vault, backend } = await setup(t, 3_600_000);
  await sleep(1_100); // past the re-read throttle
  await vault.transit().rotate('kek'); // another host, or auto_rotate_period
  const elsewhere = vault.transit().datakey('kek', 'plaintext', { key_version: 2 });
  const dek = await backend.unwrapDataKey('kek', 2, Buffer.from(elsewhere['ciphertext'] as string));
  t.true(dek.expose().equals(Buffer.from(elsewhere['plaintext'] as string, 'base64')));
  t.is((await backend.describeKey('kek')).primaryVersion, 2);
});

test('min_encryption_version: no new DEK under an older version, but it still decrypts', async (t) => {
  const { vault, backend } = await setup(t, 3_600_000);
  const old = await backend.generateDataKey('kek', 1);
  await vault.transit().rotate('kek');
  vault.transit().configure('kek', { min_encryption_version: 2 });
  t.is((await backend.describeKey('kek')).primaryVersion, 2);
  t.is(codeOf(await t.throwsAsync(backend.generateDataKey('kek', 1))), 'failed-precondition');
  t.true((await backend.unwrapDataKey('kek', 1, old.wrapped)).expose().equals(old.plaintext.expose()));
  t.is((await backend.generateDataKey('kek', 2)).plaintext.length, 32);
});

test('a poll that fails while Vault is down is retried at the next interval and never throws', async (t) => {
  const { vault, changes } = await setup(t, 150);
  vault.faults.down(400);
  await sleep(500);
  await vault.transit().rotate('kek');
  t.true(await waitFor(() => changes.some((c) => c.versions.primaryVersion === 2), 2_000));
});
