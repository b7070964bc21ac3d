// The keyring's use of the DEK caches, counted at the backend: Encrypt reuses one DEK
// within its limits, Decrypt of a fresh ciphertext needs no unwrap, and concurrent
// cache misses coalesce into one backend call.
import test from 'ava';
import { rmSync } from 'node:fs';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { DecryptionDekCache } from '../../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../../src/cache/encryption-dek-cache.js';
import type { KeyBackend } from '../../src/core/key-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';
import { EnvelopeKeyring } from '../../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { makeTempDir } from '../support/test-daemon.js';

interface Counted {
  backend: KeyBackend;
  calls: { generate: number; unwrap: number };
}

/** Wraps a real local backend and counts the calls that would reach Vault or an HSM. */
function counting(inner: KeyBackend): Counted {
  const calls = { generate: 0, unwrap: 0 };
  const backend: KeyBackend = {
    name: inner.name,
    kind: inner.kind,
    open: () => inner.open(),
    ensureKey: (spec) => inner.ensureKey(spec),
    describeKey: (k) => inner.describeKey(k),
    rotateKey: (k) => inner.rotateKey(k),
    isReady: () => inner.isReady(),
    close: () => inner.close(),
    sign: (k, v, scheme, input) => inner.sign(k, v, scheme, input),
    publicKey: (k, v) => inner.publicKey(k, v),
    mac: (k, v, data) => inner.mac(k, v, data),
    generateDataKey: async (k, v) => {
      calls.generate++;
      await new Promise((r) => setTimeout(r, 5));
      return inner.generateDataKey(k, v);
    },
    unwrapDataKey: async (k, v, w) => {
      calls.unwrap++;
      await new Promise((r) => setTimeout(r, 5));
      return inner.unwrapDataKey(k, v, w);
    },
  };
  return { backend, calls };
}

async function setup(t: import('ava').ExecutionContext, limits: { maxMessages?: number; maxBytes?: number } = {}) {
  const dir = makeTempDir('keyward-keyring-');
  const local = new LocalBackend({ name: 'local', keystoreDir: dir, logger: silentLogger });
  await local.open();
  const { backend, calls } = counting(local);
  const registry = await KeyRegistry.open([{ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' }], new Map([['local', backend]]));
  const encryptCache = new EncryptionDekCache({ maxAgeMs: 60_000, maxMessages: limits.maxMessages ?? 1 << 20, maxBytes: limits.maxBytes ?? 1 << 30, maxKeys: 16 });
  const decryptCache = new DecryptionDekCache({ ttlMs: 60_000, maxEntries: 100 });
  t.teardown(async () => {
    encryptCache.close();
    decryptCache.close();
    await local.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return { keyring: new EnvelopeKeyring(encryptCache, decryptCache), key: registry.get('k'), calls, decryptCache };
}

test('10,000 Encrypts with default limits make one backend call; their Decrypts make none', async (t) => {
  const { keyring, key, calls } = await setup(t);
  const aad = Buffer.alloc(0);
  const sealed = [];
  for (let i = 0; i < 10_000; i++) sealed.push((await keyring.seal(key, 1, Buffer.from(`m${i}`), aad)).ciphertext);
  t.is(calls.generate, 1);
  for (const ct of sealed.slice(0, 500)) await keyring.open(key, parseEnvelope(ct), aad);
  t.is(calls.unwrap, 0);
});

test('the message limit replaces the DEK: 10 messages with max_messages 3 make 4 DEKs', async (t) => {
  const { keyring, key, calls } = await setup(t, { maxMessages: 3 });
  const wrapped = new Set<string>();
  for (let i = 0; i < 10; i++) {
    const ct = (await keyring.seal(key, 1, Buffer.from('x'), Buffer.alloc(0))).ciphertext;
    wrapped.add(Buffer.from(parseEnvelope(ct).wrappedDek).toString('hex'));
  }
  t.is(calls.generate, 4);
  t.is(wrapped.size, 4);
});

test('concurrent Encrypts on a cold cache make one backend call; concurrent Decrypts after a purge one unwrap', async (t) => {
  const { keyring, key, calls, decryptCache } = await setup(t);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => keyring.seal(key, 1, Buffer.from(`c${i}`), Buffer.alloc(0))));
  t.is(calls.generate, 1);
  t.is(results.filter((r) => r.cacheHit).length, 0, 'every call waited for the same miss');
  decryptCache.purge('k');
  const opened = await Promise.all(results.map((r) => keyring.open(key, parseEnvelope(r.ciphertext), Buffer.alloc(0))));
  t.is(calls.unwrap, 1);
  opened.forEach((o, i) => t.is(o.plaintext.toString(), `c${i}`));
  t.true((await keyring.open(key, parseEnvelope(results[0]!.ciphertext), Buffer.alloc(0))).cacheHit);
});

test('a purge while a DEK is being made leaves no copy of it in either cache', async (t) => {
  const { keyring, key, calls, decryptCache } = await setup(t);
  const sealing = keyring.seal(key, 1, Buffer.from('x'), Buffer.alloc(0));
  keyring.purge('k'); // revocation lands while generateDataKey is in flight
  const sealed = await sealing;
  t.is(calls.generate, 2, 'the cancelled DEK was not used; a fresh one sealed the message');
  t.is(decryptCache.size, 1, 'only the DEK that sealed is cached for decryption');
  t.is((await keyring.open(key, parseEnvelope(sealed.ciphertext), Buffer.alloc(0))).plaintext.toString(), 'x');
  t.is(calls.unwrap, 0);
});

test('revoking a version mid-call: its DEKs are never cached again until the version is allowed again', async (t) => {
  const { keyring, key, calls, decryptCache } = await setup(t);
  const sealing = keyring.seal(key, 1, Buffer.from('racing the revocation'), Buffer.alloc(0));
  keyring.purge('k', 1); // version 1 revoked while its DEK is being made
  const sealed = await sealing;
  t.is(decryptCache.size, 0, 'nothing of the revoked version was cached');
  t.false(sealed.cacheHit);
  const again = await keyring.seal(key, 1, Buffer.from('still revoked'), Buffer.alloc(0));
  t.false(again.cacheHit, 'no active DEK of the revoked version was kept');
  t.is(decryptCache.size, 0);
  const generatedWhileRevoked = calls.generate;
  keyring.allow('k', 1);
  await keyring.seal(key, 1, Buffer.from('enabled again'), Buffer.alloc(0));
  const cached = await keyring.seal(key, 1, Buffer.from('enabled again'), Buffer.alloc(0));
  t.true(cached.cacheHit, 'caching resumes once the version is enabled again');
  t.is(calls.generate, generatedWhileRevoked + 1);
  t.is(decryptCache.size, 1);
});
