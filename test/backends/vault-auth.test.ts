// Authentication of the Vault backend against the test Vault: token file, AppRole and
// Kubernetes logins; renewal before expiry and a new login near the max TTL or when
// renewal is refused; token expiry mid-run — calls the DEK cache serves go on, the others
// recover after one re-login shared by all callers; a 403 that a new token does not cure
// is failed-precondition (keyward's fault, not the caller's); credentials are re-read
// from their files at each login.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { VaultBackend } from '../../src/backends/vault/vault-backend.js';
import { DecryptionDekCache } from '../../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../../src/cache/encryption-dek-cache.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';
import { EnvelopeKeyring } from '../../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { sleep } from '../support/deferred.js';
import { systemTiming } from '../../src/backends/vault/timing.js';
import { openVaultBackend, recordingLogger, vaultSettings, type RecordingLogger } from '../support/vault-server/backend-harness.js';
import { startVaultServer, type TestVaultServer } from '../support/vault-server.js';

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const MAC = { keyId: 'm', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' } as const;
const KEK = { keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' } as const;

interface Env {
  readonly vault: TestVaultServer;
  readonly dir: string;
  file(name: string, value: string): string;
  open(auth: Record<string, unknown>, overrides?: Record<string, unknown>): Promise<{ backend: VaultBackend; log: RecordingLogger }>;
}

async function env(t: ExecutionContext): Promise<Env> {
  const vault = await startVaultServer();
  vault.setPolicy('keyward', [{ path: 'transit/*', capabilities: ['create', 'read', 'update'] }]);
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-auth-'));
  const backends: VaultBackend[] = [];
  t.teardown(async () => {
    await Promise.allSettled(backends.map((b) => b.close()));
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const file = (name: string, value: string) => {
    writeFileSync(join(dir, name), `${value}\n`, { mode: 0o600 });
    return join(dir, name);
  };
  return {
    vault,
    dir,
    file,
    open: async (auth, overrides = {}) => {
      const log = recordingLogger();
      const backend = await openVaultBackend(
        vaultSettings({
          type: 'vault',
          address: vault.address,
          auth,
          request_timeout_ms: 1_000,
          retry: { max_attempts: 3, base_delay_ms: 10, max_delay_ms: 50 },
          key_poll_interval_ms: 3_600_000,
          ...overrides,
        }),
        { logger: log.logger },
      );
      backends.push(backend);
      return { backend, log };
    },
  };
}

async function approle(e: Env, options: Parameters<TestVaultServer['approle']['addRole']>[1] = {}) {
  const { roleId, secretId } = e.vault.approle.addRole('keyward', { policies: ['keyward'], ...options });
  const secretFile = e.file('secret-id', secretId);
  const auth = { method: 'approle', role_id: { file: e.file('role-id', roleId) }, secret_id: { file: secretFile } };
  return { roleId, secretId, secretFile, auth };
}

test('token auth: the token is read from its file and looked up; Vault calls carry it', async (t) => {
  const e = await env(t);
  const token = e.vault.createToken({ policies: ['keyward'], ttlSeconds: 3600 });
  const { backend } = await e.open({ method: 'token', token: { file: e.file('token', token.id) } });
  await backend.ensureKey(MAC);
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
  t.true(e.vault.requests.some((r) => r.path === 'auth/token/lookup-self'));
  const transit = e.vault.requests.filter((r) => r.path.startsWith('transit/'));
  t.true(transit.length >= 3);
  t.true(transit.every((r) => r.withToken && r.status !== 403), 'every call carried an accepted token');
});

test('token auth from an environment variable works the same way', async (t) => {
  const e = await env(t);
  const token = e.vault.createToken({ policies: ['keyward'], ttlSeconds: 3600 });
  const name = `KEYWARD_TEST_VAULT_TOKEN_${process.pid}`;
  process.env[name] = token.id;
  t.teardown(() => delete process.env[name]);
  const { backend } = await e.open({ method: 'token', token: { env: name } });
  await backend.ensureKey(MAC);
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
});

test('AppRole and Kubernetes logins: POST auth/<mount>/login without a token; the answer token is used', async (t) => {
  const e = await env(t);
  const { auth } = await approle(e);
  const a = await e.open(auth);
  await a.backend.ensureKey(MAC);
  t.is(e.vault.approle.logins, 1);
  const jwt = e.vault.kubernetes.addRole('keyward-k8s', { policies: ['keyward'] });
  const k = await e.open({ method: 'kubernetes', role: 'keyward-k8s', jwt: { file: e.file('jwt', jwt) } });
  t.is((await k.backend.ensureKey(MAC)).primaryVersion, 1);
  t.is(e.vault.kubernetes.logins, 1);
  const logins = e.vault.requests.filter((r) => r.path.endsWith('/login'));
  t.deepEqual(logins.map((r) => [r.path, r.withToken, r.status]), [
    ['auth/approle/login', false, 200],
    ['auth/kubernetes/login', false, 200],
  ]);
});

test('rejected credentials at start: failed-precondition naming the file, and the daemon would not start', async (t) => {
  const e = await env(t);
  const { roleId } = await approle(e);
  const err = await t.throwsAsync(
    e.open({ method: 'approle', role_id: { file: e.file('rid', roleId) }, secret_id: { file: e.file('wrong', 'not-the-secret-id-0123456789') } }),
  );
  t.is(codeOf(err), 'failed-precondition');
  t.regex(err!.message, /Vault refused approle login at auth\/approle \(400: invalid role or secret ID\)/);
  const missing = await t.throwsAsync(e.open({ method: 'token', token: { file: join(e.dir, 'nope') } }));
  t.is(codeOf(missing), 'failed-precondition');
  t.regex(missing!.message, /cannot read the Vault token from file .*nope: ENOENT/);
  const badJwt = await t.throwsAsync(e.open({ method: 'kubernetes', role: 'none', jwt: { file: e.file('j', 'eyJ.x.y-not-accepted-jwt') } }));
  t.is(codeOf(badJwt), 'failed-precondition');
});

test('the token is renewed before it expires, and replaced by a new login near its max TTL; calls never fail', async (t) => {
  const e = await env(t);
  const { auth } = await approle(e, { tokenTtlSeconds: 2, tokenMaxTtlSeconds: 4 });
  const { backend, log } = await e.open(auth);
  await backend.ensureKey(MAC);
  const failures: string[] = [];
  const end = Date.now() + 5_500;
  while (Date.now() < end) {
    await backend.mac('m', 1, Buffer.from('tick')).catch((err: unknown) => failures.push(codeOf(err)));
    await sleep(100);
  }
  t.deepEqual(failures, []);
  t.true(e.vault.count((r) => r.path === 'auth/token/renew-self' && r.status === 200) >= 1, 'renewed');
  t.true(e.vault.approle.logins >= 2, `logged in again before the max TTL (${e.vault.approle.logins} logins)`);
  t.true(backend.stats().renewals >= 1);
  t.is(e.vault.count((r) => r.path.startsWith('transit/') && r.status === 403), 0, 'no call was ever refused');
  t.true(log.events().some((ev) => ev['event'] === 'vault.login' && ev['reason'] === 'token expiring'));
});

test('when Vault refuses a renewal (token revoked), the backend logs in again by itself', async (t) => {
  const e = await env(t);
  const { auth } = await approle(e, { tokenTtlSeconds: 3 });
  const { backend, log } = await e.open(auth);
  t.is(e.vault.approle.logins, 1);
  for (const token of e.vault.tokens.issued((x) => x.path === 'auth/approle/login')) e.vault.tokens.revoke(token.id);
  await sleep(2_400); // renewal is due at 2 s
  t.is(e.vault.approle.logins, 2);
  t.true(log.events().some((ev) => ev['event'] === 'vault.token.renew_refused'));
  await backend.ensureKey(MAC);
  t.is(e.vault.count((r) => r.path.startsWith('transit/') && r.status === 403), 0, 'the new token was in place before any call');
});

test('token expiry mid-run: cache-served Encrypt and Decrypt go on; others recover after ONE re-login shared by concurrent callers', async (t) => {
  const e = await env(t);
  const { auth } = await approle(e, { tokenTtlSeconds: 3600 });
  const { backend } = await e.open(auth);
  const registry = await KeyRegistry.open([KEK], new Map([['vault', backend]]));
  const key = registry.get('kek');
  const encryptCache = new EncryptionDekCache({ maxAgeMs: 60_000, maxMessages: 1 << 20, maxBytes: 1 << 30, maxKeys: 16 });
  const decryptCache = new DecryptionDekCache({ ttlMs: 60_000, maxEntries: 1_000 });
  t.teardown(() => {
    encryptCache.close();
    decryptCache.close();
  });
  const keyring = new EnvelopeKeyring(encryptCache, decryptCache);
  // Ciphertexts whose DEKs this keyring has never seen: sealed by another keyring.
  const otherEncrypt = new EncryptionDekCache({ maxAgeMs: 60_000, maxMessages: 1, maxBytes: 1 << 30, maxKeys: 16 });
  const otherDecrypt = new DecryptionDekCache({ ttlMs: 60_000, maxEntries: 10 });
  t.teardown(() => {
    otherEncrypt.close();
    otherDecrypt.close();
  });
  const other = new EnvelopeKeyring(otherEncrypt, otherDecrypt);
  const foreign = await Promise.all(Array.from({ length: 20 }, (_, i) => other.seal(key, 1, Buffer.from(`foreign ${i}`), Buffer.alloc(0))));
  const cached = await keyring.seal(key, 1, Buffer.from('cached'), Buffer.alloc(0));

  t.true(e.vault.tokens.expireAll() >= 1);
  const requestsBefore = e.vault.requests.length;
  // Served from the caches: no Vault request at all, expired token or not.
  t.is((await keyring.open(key, parseEnvelope(cached.ciphertext), Buffer.alloc(0))).plaintext.toString(), 'cached');
  const sealed = await keyring.seal(key, 1, Buffer.from('still sealing'), Buffer.alloc(0));
  t.true(sealed.cacheHit);
  t.is(e.vault.requests.length, requestsBefore);

  // 20 concurrent cache misses: one 403 wave, one re-login, then all succeed.
  const opened = await Promise.all(foreign.map((f) => keyring.open(key, parseEnvelope(f.ciphertext), Buffer.alloc(0))));
  opened.forEach((o, i) => t.is(o.plaintext.toString(), `foreign ${i}`));
  t.is(e.vault.approle.logins, 2, 'exactly one re-login');
  t.true(e.vault.count((r) => r.path.startsWith('transit/decrypt/') && r.status === 200) >= 20);
});

test('a token the backend knows has expired is replaced before the call, by ONE login for all concurrent callers', async (t) => {
  const e = await env(t);
  const { auth } = await approle(e, { tokenTtlSeconds: 3600 });
  let skew = 0;
  const timing = { ...systemTiming, now: () => Date.now() + skew };
  const log = recordingLogger();
  const backend = await openVaultBackend(
    vaultSettings({ type: 'vault', address: e.vault.address, auth, key_poll_interval_ms: 3_600_000 }),
    { logger: log.logger, timing },
  );
  t.teardown(() => backend.close());
  await backend.ensureKey(MAC);
  skew = 2 * 3600 * 1000; // two hours later, by the backend's clock
  const macs = await Promise.all(Array.from({ length: 20 }, () => backend.mac('m', 1, Buffer.from('x'))));
  t.is(macs.length, 20);
  t.is(e.vault.approle.logins, 2, 'one new login, shared');
  t.is(e.vault.count((r) => r.path.startsWith('transit/') && r.status === 403), 0, 'no request went out with the expired token');
  t.true(log.events().some((ev) => ev['event'] === 'vault.login' && ev['reason'] === 'token expired'));
});

test('a 403 that a new token does not cure (the policy denies it) is failed-precondition, without a login storm', async (t) => {
  const e = await env(t);
  e.vault.setPolicy('no-rotate', [
    { path: 'transit/keys/+', capabilities: ['create', 'read', 'update'] },
    { path: 'transit/hmac/*', capabilities: ['update'] },
    { path: 'transit/keys/+/rotate', capabilities: ['deny'] },
  ]);
  const { roleId, secretId } = e.vault.approle.addRole('limited', { policies: ['no-rotate'] });
  const { backend } = await e.open({ method: 'approle', role_id: { file: e.file('rid', roleId) }, secret_id: { file: e.file('sid', secretId) } });
  await backend.ensureKey(MAC);
  const errors = await Promise.all(Array.from({ length: 5 }, () => backend.rotateKey('m').then(() => undefined, (err: unknown) => err)));
  for (const err of errors) {
    t.is(codeOf(err), 'failed-precondition');
    t.regex((err as Error).message, /rotate key "m": Vault refused keyward's token \(403\); check the token's policy/);
  }
  t.is(e.vault.approle.logins, 1, 'no re-login: lookup-self showed the token is fine');
  const lookups = e.vault.count((r) => r.path === 'auth/token/lookup-self');
  t.true(lookups <= 2, 'one lookup for the burst (and at most one more)');
  for (let i = 0; i < 5; i++) t.is(codeOf(await t.throwsAsync(backend.rotateKey('m'))), 'failed-precondition');
  t.is(e.vault.count((r) => r.path === 'auth/token/lookup-self'), lookups, 'the denial is remembered for the path: no lookup per call');
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32, 'what the policy allows still works');
});

test('credentials are re-read at each login: a rotated secret_id or a new token in the file is picked up', async (t) => {
  const e = await env(t);
  const { secretId, secretFile, auth } = await approle(e);
  const { backend } = await e.open(auth);
  await backend.ensureKey(MAC);
  // The operator issues a new secret_id, writes it to the file and destroys the old one.
  writeFileSync(secretFile, e.vault.approle.newSecretId('keyward'));
  e.vault.approle.destroySecretId('keyward', secretId);
  e.vault.tokens.expireAll();
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
  t.is(e.vault.approle.logins, 2);

  // Token auth: Vault Agent writes a fresh token into the file.
  const first = e.vault.createToken({ policies: ['keyward'], ttlSeconds: 3600 });
  const tokenFile = e.file('token', first.id);
  const tokenBackend = (await e.open({ method: 'token', token: { file: tokenFile } })).backend;
  await tokenBackend.ensureKey(MAC);
  e.vault.tokens.revoke(first.id);
  const refused = await t.throwsAsync(tokenBackend.mac('m', 1, Buffer.from('x')));
  t.is(codeOf(refused), 'unavailable', 'the file still holds the dead token: unavailable, not a crash');
  t.regex(refused!.message, /refused the token from file .*token, and it holds no new one/);
  writeFileSync(tokenFile, e.vault.createToken({ policies: ['keyward'], ttlSeconds: 3600 }).id);
  t.is((await tokenBackend.mac('m', 1, Buffer.from('x'))).byteLength, 32, 'the new token from the file is used');
});

test('Kubernetes: a projected token rotated by the kubelet is re-read at the next login', async (t) => {
  const e = await env(t);
  const first = e.vault.kubernetes.addRole('keyward-k8s', { policies: ['keyward'] });
  const jwtFile = e.file('jwt', first);
  const { backend } = await e.open({ method: 'kubernetes', role: 'keyward-k8s', jwt: { file: jwtFile } });
  await backend.ensureKey(MAC);
  writeFileSync(jwtFile, e.vault.kubernetes.newJwt('keyward-k8s'));
  e.vault.kubernetes.revokeJwt('keyward-k8s', first);
  e.vault.tokens.expireAll();
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
  t.is(e.vault.kubernetes.logins, 2);
});
