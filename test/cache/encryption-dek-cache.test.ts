// Tests of the Encrypt-side DEK cache (src/cache/encryption-dek-cache.ts): reserve and
// refill under the message, byte, age and key-count limits, one backend call for many
// concurrent refills, and that every way a DEK leaves the cache zeroizes its bytes,
// proven by holding the Buffer and reading it after disposal.
import test, { type ExecutionContext } from 'ava';
import { randomBytes } from 'node:crypto';
import type { DataKey } from '../../src/core/key-backend.js';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import { EncryptionDekCache, type EncryptionDekLimits } from '../../src/cache/encryption-dek-cache.js';
import { deferred, sleep } from '../support/deferred.js';
import { isAllZero } from '../support/errors.js';

const LIMITS: EncryptionDekLimits = { maxAgeMs: 60_000, maxMessages: 1000, maxBytes: 1 << 20, maxKeys: 16 };

function cache(t: ExecutionContext, limits: Partial<EncryptionDekLimits> = {}): EncryptionDekCache {
  const c = new EncryptionDekCache({ ...LIMITS, ...limits });
  t.teardown(() => c.close());
  return c;
}

function dataKey(): DataKey {
  return { plaintext: SecretBytes.random(32), wrapped: randomBytes(40) };
}

/** Refills (keyId, version) with a fresh DEK and returns the DEK's Buffer, checked non-zero. */
async function fill(t: ExecutionContext, c: EncryptionDekCache, keyId: string, version: number): Promise<Buffer> {
  const dk = dataKey();
  await c.refill(keyId, version, async () => dk);
  const held = dk.plaintext.expose();
  t.false(isAllZero(held), 'the DEK is non-zero before disposal');
  return held;
}

test('reserve misses on an empty cache, and hits after refill', async (t) => {
  const c = cache(t);
  t.is(c.reserve('k', 1, 10), undefined);
  const dk = dataKey();
  await c.refill('k', 1, async () => dk);
  const active = c.reserve('k', 1, 10);
  t.truthy(active);
  t.is(active?.dek, dk.plaintext);
  t.is(active?.wrapped, dk.wrapped);
  t.is(active?.keyId, 'k');
  t.is(active?.version, 1);
  t.is(active?.messages, 1);
  t.is(active?.bytes, 10);
  t.is(c.reserve('k', 2, 10), undefined, 'another version has its own DEK');
  t.is(c.reserve('other', 1, 10), undefined, 'another key has its own DEK');
  t.is(c.size, 1);
});

test('the message limit: maxMessages reservations, then the DEK is dropped and zeroized', async (t) => {
  const c = cache(t, { maxMessages: 3 });
  const held = await fill(t, c, 'k', 1);
  for (let i = 1; i <= 3; i++) t.is(c.reserve('k', 1, 1)?.messages, i);
  t.is(c.reserve('k', 1, 1), undefined, 'the 4th message needs a new DEK');
  t.true(isAllZero(held), 'the spent DEK is zeroized');
  t.is(c.size, 0);
  t.is(c.reserve('k', 1, 1), undefined);
  const fresh = await fill(t, c, 'k', 1);
  t.is(c.reserve('k', 1, 1)?.messages, 1);
  t.false(isAllZero(fresh));
});

test('the byte limit: up to maxBytes in total, then the DEK is dropped and zeroized', async (t) => {
  const c = cache(t, { maxBytes: 100 });
  const held = await fill(t, c, 'k', 1);
  t.is(c.reserve('k', 1, 60)?.bytes, 60);
  t.is(c.reserve('k', 1, 40)?.bytes, 100, 'exactly the limit is allowed');
  t.is(c.reserve('k', 1, 1), undefined, 'one byte over is not');
  t.true(isAllZero(held));
  t.is(c.size, 0);
});

test('a single message larger than the byte limit gets a fresh DEK of its own', async (t) => {
  const c = cache(t, { maxBytes: 100 });
  const used = await fill(t, c, 'k', 1);
  t.truthy(c.reserve('k', 1, 10));
  t.is(c.reserve('k', 1, 500), undefined, 'a used DEK does not take the oversized message');
  t.true(isAllZero(used));
  const dk = dataKey();
  await c.refill('k', 1, async () => dk);
  const own = c.reserve('k', 1, 500);
  t.is(own?.dek, dk.plaintext, 'a fresh DEK takes it');
  t.is(own?.bytes, 500);
  const held = dk.plaintext.expose();
  t.false(isAllZero(held));
  t.is(c.reserve('k', 1, 1), undefined, 'and is spent by it');
  t.true(isAllZero(held));
});

test('ten concurrent refills call create once', async (t) => {
  const c = cache(t);
  const gate = deferred<DataKey>();
  let calls = 0;
  const create = (): Promise<DataKey> => {
    calls += 1;
    return gate.promise;
  };
  const refills = Array.from({ length: 10 }, () => c.refill('k', 1, create));
  const dk = dataKey();
  gate.resolve(dk);
  await Promise.all(refills);
  t.is(calls, 1);
  t.is(c.reserve('k', 1, 1)?.dek, dk.plaintext);
  // Once settled, the next refill calls the backend again.
  await c.refill('k', 1, create);
  t.is(calls, 2);
});

test('a failed create rejects every waiting caller, caches nothing, and the next refill retries', async (t) => {
  const c = cache(t);
  let calls = 0;
  const failing = async (): Promise<DataKey> => {
    calls += 1;
    await sleep(5);
    throw new Error('backend down');
  };
  const results = await Promise.allSettled(Array.from({ length: 10 }, () => c.refill('k', 1, failing)));
  t.is(calls, 1);
  t.true(results.every((r) => r.status === 'rejected'));
  t.is(c.size, 0);
  await fill(t, c, 'k', 1);
  t.truthy(c.reserve('k', 1, 1));
});

test('concurrent refills of different keys each call create', async (t) => {
  const c = cache(t);
  let calls = 0;
  const create = async (): Promise<DataKey> => {
    calls += 1;
    return dataKey();
  };
  await Promise.all([c.refill('a', 1, create), c.refill('a', 2, create), c.refill('b', 1, create)]);
  t.is(calls, 3);
  t.is(c.size, 3);
});

test('zeroization: LRU eviction when more keys than maxKeys hold a DEK', async (t) => {
  const c = cache(t, { maxKeys: 2 });
  const a = await fill(t, c, 'a', 1);
  const b = await fill(t, c, 'b', 1);
  t.truthy(c.reserve('a', 1, 1), 'a is now the most recently used');
  const third = await fill(t, c, 'c', 1);
  t.true(isAllZero(b), 'the least recently used DEK was evicted and zeroized');
  t.false(isAllZero(a));
  t.false(isAllZero(third));
  t.is(c.size, 2);
  t.is(c.reserve('b', 1, 1), undefined);
});

test('zeroization: age limit (TTL expiry, then purgeStale)', async (t) => {
  const c = cache(t, { maxAgeMs: 30 });
  const held = await fill(t, c, 'k', 1);
  t.truthy(c.reserve('k', 1, 1), 'usable before its age limit');
  await sleep(80);
  c.purgeStale();
  t.true(isAllZero(held));
  t.is(c.size, 0);
  t.is(c.reserve('k', 1, 1), undefined);
});

test('zeroization: an expired DEK is not handed out by reserve', async (t) => {
  const c = cache(t, { maxAgeMs: 30 });
  const dk = dataKey();
  await c.refill('k', 1, async () => dk);
  const held = dk.plaintext.expose();
  await sleep(60);
  t.is(c.reserve('k', 1, 1), undefined);
  t.true(isAllZero(held));
});

test('zeroization: purge(keyId, version) on revocation drops only that version', async (t) => {
  const c = cache(t);
  const v1 = await fill(t, c, 'k', 1);
  const v2 = await fill(t, c, 'k', 2);
  const other = await fill(t, c, 'k-other', 1);
  c.purge('k', 1);
  t.true(isAllZero(v1));
  t.false(isAllZero(v2));
  t.false(isAllZero(other));
  t.is(c.reserve('k', 1, 1), undefined);
  t.truthy(c.reserve('k', 2, 1));
  t.is(c.size, 2);
});

test('zeroization: purge(keyId) drops every version of that key only', async (t) => {
  const c = cache(t);
  const v1 = await fill(t, c, 'k', 1);
  const v2 = await fill(t, c, 'k', 2);
  const other = await fill(t, c, 'k2', 1);
  c.purge('k');
  t.true(isAllZero(v1));
  t.true(isAllZero(v2));
  t.false(isAllZero(other));
  t.is(c.size, 1);
});

test('zeroization: close() on shutdown drops everything', async (t) => {
  const c = cache(t);
  const held = [await fill(t, c, 'a', 1), await fill(t, c, 'b', 1), await fill(t, c, 'b', 2)];
  c.close();
  for (const h of held) t.true(isAllZero(h));
  t.is(c.size, 0);
});

test('zeroization: a refill that replaces an active DEK zeroizes the old one', async (t) => {
  const c = cache(t);
  const old = await fill(t, c, 'k', 1);
  const fresh = await fill(t, c, 'k', 1);
  t.true(isAllZero(old));
  t.false(isAllZero(fresh));
});

test('zeroization: a DEK that arrives after purge of its version is zeroized, not cached', async (t) => {
  const c = cache(t);
  const gate = deferred<DataKey>();
  const refill = c.refill('k', 1, () => gate.promise);
  c.purge('k', 1);
  const dk = dataKey();
  const held = dk.plaintext.expose();
  gate.resolve(dk);
  await refill;
  t.true(isAllZero(held));
  t.is(c.reserve('k', 1, 1), undefined);
  t.is(c.size, 0);
});

test('a purge of another version does not cancel a refill under way', async (t) => {
  const c = cache(t);
  const gate = deferred<DataKey>();
  const refill = c.refill('k', 2, () => gate.promise);
  c.purge('k', 1);
  c.purge('other');
  const dk = dataKey();
  gate.resolve(dk);
  await refill;
  t.is(c.reserve('k', 2, 1)?.dek, dk.plaintext);
});

test('zeroization: a DEK that arrives after close() is zeroized, not cached', async (t) => {
  const c = cache(t);
  const gate = deferred<DataKey>();
  const refill = c.refill('k', 1, () => gate.promise);
  c.close();
  const dk = dataKey();
  const held = dk.plaintext.expose();
  gate.resolve(dk);
  await refill;
  t.true(isAllZero(held));
  t.is(c.size, 0);
});
