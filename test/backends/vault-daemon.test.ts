// The real daemon on the vault backend, end to end over its Unix socket: Encrypt and
// Decrypt, GenerateDataKey, Sign (a JWT-ready ECDSA signature) and ComputeMac go through
// the test Vault; while Vault is down, Decrypts served from the DEK cache keep working
// and a Decrypt that needs Vault gets UNAVAILABLE; when Vault is back it works again,
// with nobody touching the daemon.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { createHash, createPublicKey, verify } from 'node:crypto';
import { SignatureAlgorithm } from '../../src/wire/gen/keyward/v1/key_service_pb.js';
import { sleep } from '../support/deferred.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';
import { startVaultTarget, vaultBackendEntry, type VaultTarget } from '../support/vault-server/backend-harness.js';

const KEYS = [
  { id: 'orders', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' },
  { id: 'tokens', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'vault' },
  { id: 'hooks', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' },
];
const utf8 = (s: string) => Buffer.from(s, 'utf8');

let target: VaultTarget;
const daemons: TestDaemon[] = [];

async function daemon(): Promise<TestDaemon> {
  const d = await startTestDaemon({
    overrides: {
      backends: {
        vault: vaultBackendEntry(target, {
          request_timeout_ms: 500,
          retry: { max_attempts: 2, base_delay_ms: 20, max_delay_ms: 50 },
          circuit_breaker: { failure_threshold: 3, open_ms: 500 },
          key_poll_interval_ms: 1_000,
        }),
      },
      keys: KEYS,
    },
  });
  daemons.push(d);
  return d;
}

test.before(async () => {
  target = await startVaultTarget();
});
test.after.always(async () => {
  await Promise.allSettled(daemons.map((d) => d.dispose()));
  await target?.close();
});

test.serial('Encrypt, Decrypt, GenerateDataKey, Sign and ComputeMac over the socket, with the KEKs in Vault', async (t) => {
  const d = await daemon();
  const enc = await d.client.encrypt({ keyId: 'orders', plaintext: utf8('order #42'), associatedData: utf8('tenant=7') });
  t.is(enc.keyVersion, 1);
  const dec = await d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: utf8('tenant=7') });
  t.is(Buffer.from(dec.plaintext).toString(), 'order #42');
  const dk = await d.client.generateDataKey({ keyId: 'orders' });
  t.is(dk.plaintextKey.length, 32);
  const signed = await d.client.sign({ keyId: 'tokens', input: { case: 'message', value: utf8('header.payload') }, algorithm: SignatureAlgorithm.ECDSA_P256_SHA256 });
  const pem = (await d.client.getPublicKey({ keyId: 'tokens', keyVersion: 0 })).publicKeyPem;
  t.true(verify('sha256', utf8('header.payload'), { key: createPublicKey(pem), dsaEncoding: 'der' }, signed.signature));
  // Verify of a digest goes to Vault (transit/verify, prehashed): node:crypto cannot do it.
  const digest = createHash('sha256').update('header.payload').digest();
  const verdict = await d.client.verify({ keyId: 'tokens', input: { case: 'digest', value: digest }, signature: signed.signature, algorithm: SignatureAlgorithm.ECDSA_P256_SHA256 });
  t.true(verdict.valid);
  const mac = await d.client.computeMac({ keyId: 'hooks', data: utf8('webhook') });
  t.is(mac.mac.length, 32);
  if (target.server) {
    t.true(target.server.count((r) => r.path.startsWith('transit/datakey/plaintext/orders')) >= 1, 'the DEK came from Vault');
    t.true(target.server.count((r) => r.path.startsWith('transit/sign/tokens')) === 1);
  }
});

test.serial('Vault down: cached Decrypts keep working over the socket, uncached ones are UNAVAILABLE, then all recovers by itself', async (t) => {
  if (!target.server) return t.pass('needs the test Vault (fault injection)');
  const d = await daemon();
  // Another daemon seals with DEKs this one has never seen.
  const other = await daemon();
  const cached = await d.client.encrypt({ keyId: 'orders', plaintext: utf8('cached') });
  const uncached = await Promise.all(Array.from({ length: 20 }, (_, i) => other.client.encrypt({ keyId: 'orders', plaintext: utf8(`other ${i}`) })));
  // Each daemon reuses one DEK: make sure the "uncached" ones are really a DEK d lacks.
  t.notDeepEqual(Buffer.from(cached.ciphertext).subarray(0, 120), Buffer.from(uncached[0]!.ciphertext).subarray(0, 120));

  target.server.faults.down(3_000);
  for (let i = 0; i < 5; i++) {
    const dec = await d.client.decrypt({ ciphertext: cached.ciphertext });
    t.is(Buffer.from(dec.plaintext).toString(), 'cached');
    const enc = await d.client.encrypt({ keyId: 'orders', plaintext: utf8('still encrypting') });
    t.is(enc.keyVersion, 1);
    await rejectsWithCode(t, d.client.decrypt({ ciphertext: uncached[i]!.ciphertext }), status.UNAVAILABLE);
    await sleep(100);
  }
  await sleep(3_200);
  let recovered = false;
  for (let i = 5; i < 20 && !recovered; i++) {
    recovered = await d.client.decrypt({ ciphertext: uncached[i]!.ciphertext }).then(() => true, () => false);
    if (!recovered) await sleep(200);
  }
  t.true(recovered, 'an uncached Decrypt works again');
  t.is(Buffer.from((await d.client.decrypt({ ciphertext: uncached[19]!.ciphertext })).plaintext).toString(), 'other 19');
});

test.serial('versions decided in Vault reach a running daemon: a rotation elsewhere moves Encrypt on; below min_decryption_version Decrypt stops', async (t) => {
  if (!target.server) return t.pass('needs the test Vault (changes keys behind the daemon)');
  const d = await daemon();
  const elsewhere = await daemon();
  const before = await d.client.encrypt({ keyId: 'orders', plaintext: utf8('old version') });
  t.is(Buffer.from((await d.client.decrypt({ ciphertext: before.ciphertext })).plaintext).toString(), 'old version', 'cached');
  const { key } = await elsewhere.admin.rotateKey({ keyId: 'orders' });
  const newest = key!.primaryVersion;
  t.is(newest, before.keyVersion + 1);
  // d learns of the rotation from its poll (1 s here), with no restart.
  let moved = false;
  for (let i = 0; i < 30 && !moved; i++) {
    moved = (await d.client.encrypt({ keyId: 'orders', plaintext: utf8('x') })).keyVersion === newest;
    if (!moved) await sleep(100);
  }
  t.true(moved, 'Encrypt moved to the version rotated by another daemon');
  target.server.transit(target.transitMount).configure('orders', { min_decryption_version: newest });
  let refused = false;
  for (let i = 0; i < 30 && !refused; i++) {
    refused = await d.client.decrypt({ ciphertext: before.ciphertext }).then(
      () => false,
      (err: { code?: number; details?: string }) => err.code === status.FAILED_PRECONDITION && /is disabled/.test(err.details ?? ''),
    );
    if (!refused) await sleep(100);
  }
  t.true(refused, 'the cached DEK of a version below min_decryption_version no longer decrypts');
});
