// Tests of the Decrypt-side DEK cache (src/cache/decryption-dek-cache.ts): lookups by
// (key, version, wrapped DEK), one unwrap for many concurrent misses, and that every
// way a DEK leaves the cache (eviction, expiry, revocation purge, shutdown, replacement)
// zeroizes its bytes, proven by holding the Buffer and reading it after disposal.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import { DecryptionDekCache, type DecryptionDekLimits } from '../../src/cache/decryption-dek-cache.js';
import { deferred, sleep } from '../support/deferred.js';
import { isAllZero } from '../support/errors.js';

const LIMITS: DecryptionDekLimits = { ttlMs: 60_000, maxEntries: 16 };

function cache(t: ExecutionContext, limits: Partial<DecryptionDekLimits> = {}): DecryptionDekCache {
  const c = new DecryptionDekCache({ ...LIMITS, ...limits });
  t.teardown(() => c.close());
  return c;
}

/** Caches a fresh DEK under (keyId, version, wrapped) and returns its Buffer, checked non-zero. */
function put(t: ExecutionContext, c: DecryptionDekCache, keyId: string, version: number, wrapped: Uint8Array): Buffer {
  const dek = SecretBytes.random(32);
  c.set(keyId, version, wrapped, dek);
  const held = dek.expose();
  t.false(isAllZero(held), 'the DEK is non-zero before disposal');
  return held;
}

test('get misses, set, then get hits with the same DEK', (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  t.is(c.get('k', 1, wrapped), undefined);
  const dek = SecretBytes.random(32);
  c.set('k', 1, wrapped, dek);
  t.is(c.get('k', 1, wrapped), dek);
  t.is(c.get('k', 1, Buffer.from(wrapped)), dek, 'looked up by content, not identity');
  t.is(c.size, 1);
});

test('key id, version and wrapped bytes all take part in the lookup', (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  put(t, c, 'k', 1, wrapped);
  t.is(c.get('k', 2, wrapped), undefined);
  t.is(c.get('k2', 1, wrapped), undefined);
  const other = Buffer.from(wrapped);
  other[0] = other[0]! ^ 1;
  t.is(c.get('k', 1, other), undefined);
  // (a, 12) and (a1, 2) must not collide.
  const w = randomBytes(8);
  const a12 = SecretBytes.random(32);
  const a12b = SecretBytes.random(32);
  c.set('a', 12, w, a12);
  c.set('a1', 2, w, a12b);
  t.is(c.get('a', 12, w), a12);
  t.is(c.get('a1', 2, w), a12b);
});

test('ten concurrent loads call unwrap once', async (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  const gate = deferred<SecretBytes>();
  let calls = 0;
  const unwrap = (): Promise<SecretBytes> => {
    calls += 1;
    return gate.promise;
  };
  const loads = Array.from({ length: 10 }, () => c.load('k', 1, wrapped, unwrap));
  const dek = SecretBytes.random(32);
  gate.resolve(dek);
  await Promise.all(loads);
  t.is(calls, 1);
  t.is(c.get('k', 1, wrapped), dek);
});

test('loads of different wrapped DEKs each call unwrap', async (t) => {
  const c = cache(t);
  let calls = 0;
  const unwrap = async (): Promise<SecretBytes> => {
    calls += 1;
    return SecretBytes.random(32);
  };
  await Promise.all([c.load('k', 1, randomBytes(40), unwrap), c.load('k', 1, randomBytes(40), unwrap)]);
  t.is(calls, 2);
  t.is(c.size, 2);
});

test('a failed unwrap rejects every waiting caller, caches nothing, and the next load retries', async (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  let calls = 0;
  const failing = async (): Promise<SecretBytes> => {
    calls += 1;
    await sleep(5);
    throw new Error('unwrap failed');
  };
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => c.load('k', 1, wrapped, failing)));
  t.is(calls, 1);
  t.true(results.every((r) => r.status === 'rejected'));
  t.is(c.size, 0);
  const dek = SecretBytes.random(32);
  await c.load('k', 1, wrapped, async () => dek);
  t.is(c.get('k', 1, wrapped), dek);
});

test('zeroization: LRU eviction when more than maxEntries are cached', (t) => {
  const c = cache(t, { maxEntries: 2 });
  const wa = randomBytes(40);
  const wb = randomBytes(40);
  const a = put(t, c, 'k', 1, wa);
  const b = put(t, c, 'k', 1, wb);
  t.truthy(c.get('k', 1, wa), 'a is now the most recently used');
  const third = put(t, c, 'k', 1, randomBytes(40));
  t.true(isAllZero(b), 'the least recently used DEK was evicted and zeroized');
  t.false(isAllZero(a));
  t.false(isAllZero(third));
  t.is(c.size, 2);
  t.is(c.get('k', 1, wb), undefined);
});

test('zeroization: TTL expiry, then purgeStale', async (t) => {
  const c = cache(t, { ttlMs: 30 });
  const wrapped = randomBytes(40);
  const held = put(t, c, 'k', 1, wrapped);
  t.truthy(c.get('k', 1, wrapped), 'usable before its TTL');
  await sleep(80);
  c.purgeStale();
  t.true(isAllZero(held));
  t.is(c.size, 0);
  t.is(c.get('k', 1, wrapped), undefined);
});

test('zeroization: an expired DEK is not handed out by get', async (t) => {
  const c = cache(t, { ttlMs: 30 });
  const wrapped = randomBytes(40);
  const held = put(t, c, 'k', 1, wrapped);
  await sleep(60);
  t.is(c.get('k', 1, wrapped), undefined);
  t.true(isAllZero(held));
});

test('zeroization: purge(keyId, version) on revocation drops only that version', (t) => {
  const c = cache(t);
  const v1a = put(t, c, 'k', 1, randomBytes(40));
  const v1b = put(t, c, 'k', 1, randomBytes(40));
  const v2 = put(t, c, 'k', 2, randomBytes(40));
  const other = put(t, c, 'k-other', 1, randomBytes(40));
  c.purge('k', 1);
  t.true(isAllZero(v1a));
  t.true(isAllZero(v1b));
  t.false(isAllZero(v2));
  t.false(isAllZero(other));
  t.is(c.size, 2);
});

test('zeroization: purge(keyId) drops every version of that key only', (t) => {
  const c = cache(t);
  const v1 = put(t, c, 'k', 1, randomBytes(40));
  const v2 = put(t, c, 'k', 2, randomBytes(40));
  const other = put(t, c, 'k2', 1, randomBytes(40));
  c.purge('k');
  t.true(isAllZero(v1));
  t.true(isAllZero(v2));
  t.false(isAllZero(other));
  t.is(c.size, 1);
});

test('zeroization: close() on shutdown drops everything', (t) => {
  const c = cache(t);
  const held = [put(t, c, 'a', 1, randomBytes(40)), put(t, c, 'b', 1, randomBytes(40)), put(t, c, 'b', 2, randomBytes(40))];
  c.close();
  for (const h of held) t.true(isAllZero(h));
  t.is(c.size, 0);
});

test('zeroization: replacing a cached DEK zeroizes the old one', (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  const old = put(t, c, 'k', 1, wrapped);
  const fresh = put(t, c, 'k', 1, wrapped);
  t.true(isAllZero(old));
  t.false(isAllZero(fresh));
});

test('zeroization: a DEK that arrives after purge of its version is zeroized, not cached', async (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  const gate = deferred<SecretBytes>();
  const load = c.load('k', 1, wrapped, () => gate.promise);
  c.purge('k', 1);
  const dek = SecretBytes.random(32);
  const held = dek.expose();
  gate.resolve(dek);
  await load;
  t.true(isAllZero(held));
  t.is(c.get('k', 1, wrapped), undefined);
  t.is(c.size, 0);
});

test('a purge of another version does not cancel a load under way', async (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  const gate = deferred<SecretBytes>();
  const load = c.load('k', 2, wrapped, () => gate.promise);
  c.purge('k', 1);
  c.purge('other');
  const dek = SecretBytes.random(32);
  gate.resolve(dek);
  await load;
  t.is(c.get('k', 2, wrapped), dek);
});

test('zeroization: a DEK that arrives after close() is zeroized, not cached', async (t) => {
  const c = cache(t);
  const wrapped = randomBytes(40);
  const gate = deferred<SecretBytes>();
  const load = c.load('k', 1, wrapped, () => gate.promise);
  c.close();
  const dek = SecretBytes.random(32);
  const held = dek.expose();
  gate.resolve(dek);
  await load;
  t.true(isAllZero(held));
  t.is(c.size, 0);
  // set() after close() also zeroizes instead of caching.
  const late = SecretBytes.random(32);
  const lateHeld = late.expose();
  c.set('k', 1, wrapped, late);
  t.true(isAllZero(lateHeld));
  t.is(c.size, 0);
});
