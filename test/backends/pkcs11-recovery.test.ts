// The token failing under a running backend. The fault is real: the token's files move
// out of SoftHSM's token directory mid-run (SoftHSM then answers CKR_OBJECT_HANDLE_INVALID
// for known keys, finds nothing, and fails C_GetTokenInfo and C_Login with
// CKR_GENERAL_ERROR — and keeps failing after the files come back until the library is
// re-initialized). Calls must get `unavailable` (never `not-found` or
// `decryption-failed`, never a crash), the backend must reconnect with backoff, and calls
// must succeed again once the files are back, without a restart.
import test from 'ava';
import { constants, verify } from 'node:crypto';
import { Pkcs11Backend } from '../../src/backends/pkcs11/pkcs11-backend.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import type { Logger } from '../../src/core/logger.js';
import { sleep } from '../support/deferred.js';
import { createSoftHsmToken } from '../support/softhsm-token.js';

const token = createSoftHsmToken('recovery');
test.after.always(() => token.cleanup());

interface Line {
  readonly at: number;
  readonly level: string;
  readonly obj: Record<string, unknown>;
  readonly msg: string | undefined;
}
const lines: Line[] = [];
const record =
  (level: string) =>
  (o: object | string, m?: string): void =>
    void lines.push({ at: Date.now(), level, obj: typeof o === 'string' ? {} : (o as Record<string, unknown>), msg: typeof o === 'string' ? o : m });
const recorder: Logger = { debug: record('debug'), info: record('info'), warn: record('warn'), error: record('error'), child: () => recorder };

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const outcome = (p: Promise<unknown>) => p.then(() => 'ok', (err: unknown) => codeOf(err));

async function waitFor(predicate: () => boolean, what: string, ms = 10_000): Promise<void> {
  const until = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

function openBackend(prefix: string, sessions = 4): Promise<Pkcs11Backend> {
  const backend = new Pkcs11Backend({
    name: prefix,
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: prefix,
    createMissingKeys: true,
    sessions,
    // jitter() = 1: the nominal delays 20, 40, 80, 160, 160 … ms.
    reconnect: { initialMs: 20, maxMs: 160, jitter: () => 0.999 },
    logger: recorder,
  });
  return backend.open().then(() => backend);
}

test.serial('the token vanishing mid-run: unavailable, never a crash; reopened with backoff; calls succeed again once it is back', async (t) => {
  const a = await openBackend('a');
  const b = await openBackend('b');
  t.teardown(async () => {
    await a.close();
    await b.close();
  });
  await a.ensureKey({ keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'a' });
  await a.ensureKey({ keyId: 'signer', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'a' });
  await a.ensureKey({ keyId: 'mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'a' });
  await b.ensureKey({ keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'b' });
  const dk = await a.generateDataKey('kek', 1);
  const dkB = await b.generateDataKey('kek', 1);
  const publicKey = await a.publicKey('signer', 1);
  const message = Buffer.from('signed across an outage');
  const macBefore = await a.mac('mac', 1, message);

  // Calls in flight when the files vanish: each succeeds or is unavailable, nothing else.
  const inFlight = Array.from({ length: 40 }, () => outcome(a.unwrapDataKey('kek', 1, dk.wrapped)));
  token.takeTokensAway();
  const early = await Promise.all(inFlight);
  t.true(
    early.every((o) => o === 'ok' || o === 'unavailable'),
    `in-flight outcomes: ${JSON.stringify(early)}`,
  );

  // Now everything that needs the token is unavailable — a KEK that "vanished" is an
  // outage, not a missing key, and a decrypt that fails is not an authentication failure.
  t.is(await outcome(a.unwrapDataKey('kek', 1, dk.wrapped)), 'unavailable');
  t.is(await outcome(a.generateDataKey('kek', 1)), 'unavailable');
  t.is(await outcome(a.sign('signer', 1, 'ecdsa-p256-sha256', { message })), 'unavailable');
  t.is(await outcome(a.ensureKey({ keyId: 'new-key', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'a' })), 'unavailable');
  t.is(await outcome(a.rotateKey('kek')), 'unavailable');
  t.is(await outcome(b.unwrapDataKey('kek', 1, dkB.wrapped)), 'unavailable');
  t.false(a.isReady());
  t.false(b.isReady());
  const err = await t.throwsAsync(a.unwrapDataKey('kek', 1, dk.wrapped));
  t.regex(err!.message, /token "recovery" is unreachable .*reconnecting/);

  // While the token stays away, reopening keeps failing — with backoff, not in a loop.
  const outageStart = Date.now();
  await sleep(500);
  const failures = lines.filter((l) => l.obj['event'] === 'pkcs11.reconnect_failed' && l.at >= outageStart && l.msg?.includes('"recovery"'));
  t.true(failures.length >= 3, `reconnect attempts: ${failures.length}`);
  t.true(failures.length <= 2 * 8, `backoff bounds the attempts (${failures.length} in 500 ms for two backends)`);
  t.is(await outcome(a.unwrapDataKey('kek', 1, dk.wrapped)), 'unavailable');
  t.true(public_ok(publicKey), 'a cached public key is still served');

  token.bringTokensBack();
  await waitFor(() => a.isReady() && b.isReady(), 'both backends ready again');
  t.true((await a.unwrapDataKey('kek', 1, dk.wrapped)).expose().equals(dk.plaintext.expose()), 'the old DEK unwraps again');
  t.true((await b.unwrapDataKey('kek', 1, dkB.wrapped)).expose().equals(dkB.plaintext.expose()));
  const signature = await a.sign('signer', 1, 'ecdsa-p256-sha256', { message });
  t.true(verify('sha256', message, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature), 'the same key signs again');
  const fresh = await a.generateDataKey('kek', 1);
  t.true((await a.unwrapDataKey('kek', 1, fresh.wrapped)).expose().equals(fresh.plaintext.expose()));
  t.truthy(lines.find((l) => l.obj['event'] === 'pkcs11.token_reachable'));

  // A second outage, before the MAC key's object was looked up again: the search by label
  // finds nothing — that too is unavailable, not not-found.
  token.takeTokensAway();
  t.is(await outcome(a.mac('mac', 1, message)), 'unavailable');
  t.is(await outcome(a.unwrapDataKey('kek', 1, dk.wrapped)), 'unavailable');
  token.bringTokensBack();
  await waitFor(() => a.isReady(), 'ready after the second outage');
  t.deepEqual(await a.mac('mac', 1, message), macBefore, 'the same MAC key');

  const logged = JSON.stringify(lines);
  t.false(logged.includes(token.pin), 'no PIN in any log line');
  t.true(lines.some((l) => l.level === 'warn' && l.obj['event'] === 'pkcs11.token_unreachable'));
});

/** A KeyObject that still verifies (public keys are cached, they need no token). */
function public_ok(key: import('node:crypto').KeyObject): boolean {
  return key.type === 'public' && key.asymmetricKeyType === 'ec';
}

test.serial('close() lets operations in flight finish before it finalizes the library; queued ones get unavailable', async (t) => {
  const backend = await openBackend('drain', 2);
  await backend.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'drain' });
  const publicKey = await backend.publicKey('rsa', 1);
  const message = Buffer.from('drain');
  const calls = Array.from({ length: 8 }, () => backend.sign('rsa', 1, 'rsa-pss-sha256', { message }));
  const closing = backend.close();
  const results = await Promise.allSettled(calls);
  await closing;
  const ok = results.filter((r): r is PromiseFulfilledResult<Buffer> => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
  t.is(ok.length, 2, 'the two calls holding a session finish');
  for (const r of ok) {
    t.true(verify('sha256', message, { key: publicKey, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 }, r.value));
  }
  t.deepEqual(
    refused.map((r) => codeOf(r.reason)),
    Array(6).fill('unavailable'),
  );
  t.false(backend.isReady());
  // The library was finalized (no other user): a new backend initializes it again.
  const again = await openBackend('drain', 2);
  t.teardown(() => again.close());
  await again.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'drain' });
  t.true((await again.publicKey('rsa', 1)).equals(publicKey));
});
