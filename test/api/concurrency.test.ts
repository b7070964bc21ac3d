// 1,000 concurrent mixed Encrypt and Decrypt calls across 3 keys, with cache limits
// small enough that DEKs are replaced and evicted while calls are in flight: every call
// must round-trip.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { startTestDaemon } from '../support/test-daemon.js';

const KEYS = ['alpha', 'beta', 'gamma'];

test('1,000 concurrent mixed Encrypt/Decrypt calls across 3 keys all round-trip', async (t) => {
  const d = await startTestDaemon({
    overrides: { cache: { encrypt: { max_messages: 37, max_keys: 2 }, decrypt: { max_entries: 5 } } },
  });
  t.teardown(() => d.dispose());
  const seeds = Array.from({ length: 500 }, (_, i) => ({
    keyId: KEYS[i % 3]!,
    plaintext: randomBytes(1 + (i % 300)),
    associatedData: Buffer.from(`seed-${i}`),
  }));
  const sealed = await Promise.all(seeds.map((s) => d.client.encrypt(s)));

  const fresh = Array.from({ length: 500 }, (_, i) => ({
    keyId: KEYS[(i + 1) % 3]!,
    plaintext: randomBytes(1 + (i % 1024)),
    associatedData: Buffer.from(`fresh-${i}`),
  }));
  // Interleave the 1,000 calls so encrypts and decrypts of all keys overlap.
  const calls: Promise<unknown>[] = [];
  for (let i = 0; i < 500; i++) {
    calls.push(d.client.encrypt(fresh[i]!));
    calls.push(d.client.decrypt({ ciphertext: sealed[i]!.ciphertext, associatedData: seeds[i]!.associatedData }));
  }
  const results = await Promise.all(calls);
  let decrypted = 0;
  for (let i = 0; i < 500; i++) {
    const dec = results[2 * i + 1] as { plaintext: Uint8Array; keyId: string };
    t.true(Buffer.from(dec.plaintext).equals(seeds[i]!.plaintext), `seed ${i}`);
    t.is(dec.keyId, seeds[i]!.keyId);
    decrypted++;
  }
  const back = await Promise.all(
    fresh.map((f, i) =>
      d.client.decrypt({ ciphertext: (results[2 * i] as { ciphertext: Uint8Array }).ciphertext, associatedData: f.associatedData }),
    ),
  );
  back.forEach((dec, i) => t.true(Buffer.from(dec.plaintext).equals(fresh[i]!.plaintext), `fresh ${i}`));
  t.is(decrypted + back.length, 1000);
});
