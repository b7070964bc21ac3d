// Verify of a precomputed SHA-256 digest in the HSM (node:crypto cannot verify prehashed
// ECDSA or PSS): what the token signed verifies, anything else does not, and a bad
// signature is `false`, never an error.
import test from 'ava';
import { createHash } from 'node:crypto';
import { Pkcs11Backend } from '../../src/backends/pkcs11/pkcs11-backend.js';
import type { SignatureScheme } from '../../src/core/key-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSoftHsmToken } from '../support/softhsm-token.js';

const token = createSoftHsmToken();
let backend: Pkcs11Backend;

test.before(async () => {
  backend = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: 'verify',
    createMissingKeys: true,
    logger: silentLogger,
  });
  await backend.open();
  await backend.ensureKey({ keyId: 'p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'hsm' });
  await backend.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'hsm' });
});
test.after.always(async () => {
  await backend?.close();
  token.cleanup();
});

const CASES: Array<[string, SignatureScheme]> = [
  ['p256', 'ecdsa-p256-sha256'],
  ['rsa', 'rsa-pkcs1-sha256'],
  ['rsa', 'rsa-pss-sha256'],
];

for (const [keyId, scheme] of CASES) {
  test(`${scheme}: a digest signature verifies in the token; another digest, a flipped bit or garbage does not`, async (t) => {
    const digest = createHash('sha256').update(`message for ${scheme}`).digest();
    const signature = await backend.sign(keyId, 1, scheme, { digest });
    t.true(await backend.verifyDigest(keyId, 1, scheme, digest, signature));
    // Signed as a message, verified as its digest: the same signature scheme.
    const fromMessage = await backend.sign(keyId, 1, scheme, { message: Buffer.from(`message for ${scheme}`) });
    t.true(await backend.verifyDigest(keyId, 1, scheme, digest, fromMessage));
    const other = createHash('sha256').update('another message').digest();
    t.false(await backend.verifyDigest(keyId, 1, scheme, other, signature));
    const flipped = Buffer.from(signature);
    flipped[flipped.length - 1]! ^= 1;
    t.false(await backend.verifyDigest(keyId, 1, scheme, digest, flipped));
    t.false(await backend.verifyDigest(keyId, 1, scheme, digest, Buffer.from('garbage')));
  });
}

test('a call that finds every session busy longer than the wait limit is refused with unavailable, not queued forever', async (t) => {
  const narrow = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: 'verify',
    createMissingKeys: true,
    sessions: 1,
    sessionWaitMs: 1,
    logger: silentLogger,
  });
  await narrow.open();
  t.teardown(() => narrow.close());
  await narrow.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'hsm' });
  // RSA-4096 signatures take milliseconds each: with one session, most of 8 wait > 1 ms.
  const results = await Promise.allSettled(
    Array.from({ length: 8 }, (_, i) => narrow.sign('rsa', 1, 'rsa-pkcs1-sha256', { message: Buffer.from(`m${i}`) })),
  );
  const refused = results.filter((r) => r.status === 'rejected');
  t.true(results.some((r) => r.status === 'fulfilled'), 'the session still serves');
  t.true(refused.length > 0, 'waiters past the limit are refused');
  for (const r of refused) {
    const reason = (r as PromiseRejectedResult).reason as { code?: string; message?: string };
    t.is(reason.code, 'unavailable');
    t.regex(reason.message ?? '', /no free session within 1 ms/);
  }
});
