// The Vault backend under injected faults (test Vault only — each test has a Vault of
// its own): 5xx and dropped connections are retried with backoff, 4xx never; a rotate is
// not retried when Vault may have done it; slow answers time out; the circuit breaker
// fails fast while Vault keeps failing and closes by itself when it answers again; and
// no more than max_concurrent_requests requests are ever in flight.
import test, { type ExecutionContext } from 'ava';
import type { VaultBackend } from '../../src/backends/vault/vault-backend.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { sleep } from '../support/deferred.js';
import { openVaultBackend, vaultSettings } from '../support/vault-server/backend-harness.js';
import { startVaultServer, type TestVaultServer } from '../support/vault-server.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const MAC = { keyId: 'm', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' } as const;

/** A test Vault and an AppRole backend on it with fast resilience settings. */
async function setup(t: ExecutionContext, overrides: Record<string, unknown> = {}): Promise<{ vault: TestVaultServer; backend: VaultBackend }> {
  const vault = await startVaultServer();
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-res-'));
  const { roleId, secretId } = vault.approle.addRole('keyward', { policies: ['keyward'] });
  vault.setPolicy('keyward', [{ path: 'transit/*', capabilities: ['create', 'read', 'update'] }]);
  const file = (name: string, value: string) => {
    writeFileSync(join(dir, name), value, { mode: 0o600 });
    return join(dir, name);
  };
  const backend = await openVaultBackend(
    vaultSettings({
      type: 'vault',
      address: vault.address,
      auth: { method: 'approle', role_id: { file: file('role-id', roleId) }, secret_id: { file: file('secret-id', secretId) } },
      request_timeout_ms: 200,
      retry: { max_attempts: 3, base_delay_ms: 10, max_delay_ms: 40 },
      circuit_breaker: { failure_threshold: 4, open_ms: 400 },
      key_poll_interval_ms: 3_600_000,
      ...overrides,
    }),
  );
  t.teardown(async () => {
    await backend.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });
  await backend.ensureKey(MAC);
  return { vault, backend };
}

const hmacRequests = (vault: TestVaultServer) => vault.count((r) => r.path.startsWith('transit/hmac/'));

test('5xx answers are retried with backoff until one succeeds; after max_attempts the call is unavailable', async (t) => {
  const { vault, backend } = await setup(t);
  vault.faults.failNext(2, 500, ['internal error']);
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
  t.is(hmacRequests(vault), 3, 'two 500s, then the answer');
  vault.faults.failNext(3, 503, ['Vault is sealed']);
  const err = await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')));
  t.is(codeOf(err), 'unavailable');
  t.regex(err!.message, /503: Vault is sealed/);
  t.is(hmacRequests(vault), 6, 'three attempts, no more');
});

test('4xx answers are never retried: 400 failed-precondition, 429 unavailable, each after one request', async (t) => {
  const { vault, backend } = await setup(t);
  vault.faults.failNext(1, 400, ['invalid request']);
  t.is(codeOf(await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')))), 'failed-precondition');
  t.is(hmacRequests(vault), 1);
  vault.faults.failNext(1, 429, ['request path "transit/hmac/m": rate limit quota exceeded']);
  t.is(codeOf(await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')))), 'unavailable');
  t.is(hmacRequests(vault), 2);
  vault.faults.failNext(1, 404, []);
  t.is(codeOf(await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')))), 'failed-precondition', '404 on an operation path: wrong mount');
  t.is(hmacRequests(vault), 3);
});

test('a dropped connection or a 500 is retried for idempotent requests, but not for a rotate (it may have happened); a 503 rotate is', async (t) => {
  const { vault, backend } = await setup(t);
  vault.faults.dropNext(1);
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32);
  t.is(vault.count((r) => r.path.startsWith('transit/hmac/') && r.status === 0), 1, 'the first attempt was dropped');
  vault.faults.dropNext(1);
  t.is(codeOf(await t.throwsAsync(backend.rotateKey('m'))), 'unavailable');
  t.is(vault.count((r) => r.path === 'transit/keys/m/rotate'), 1, 'not retried');
  vault.faults.failNext(1, 500, ['internal error']);
  t.is(codeOf(await t.throwsAsync(backend.rotateKey('m'))), 'unavailable', 'a 500 may have rotated: not retried');
  t.is(vault.count((r) => r.path === 'transit/keys/m/rotate'), 2);
  vault.faults.failNext(1, 503, ['Vault is sealed']);
  t.is((await backend.rotateKey('m')).primaryVersion, 2, 'a 503 was not processed: retried, rotated once');
  t.is(vault.count((r) => r.path === 'transit/keys/m/rotate'), 4);
});

test('slow answers time out per request; once the breaker is open, calls fail at once without reaching Vault', async (t) => {
  const { vault, backend } = await setup(t);
  vault.faults.latency(1_000);
  let started = Date.now();
  const err = await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')));
  const first = Date.now() - started;
  t.is(codeOf(err), 'unavailable');
  t.regex(err!.message, /no answer from Vault within 200 ms/);
  t.true(first < 1_000, `3 attempts of 200 ms plus backoff, took ${first} ms`);
  // The fourth consecutive failure opens the breaker.
  await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')));
  t.false(backend.isReady());
  const before = vault.requests.length;
  started = Date.now();
  const fast = await t.throwsAsync(backend.mac('m', 1, Buffer.from('x')));
  t.is(codeOf(fast), 'unavailable');
  t.regex(fast!.message, /circuit breaker open/);
  t.true(Date.now() - started < 50, 'fails fast');
  await sleep(50);
  t.is(vault.requests.length, before, 'nothing reached Vault while the breaker was open');
  vault.faults.clear();
  await sleep(450);
  t.is((await backend.mac('m', 1, Buffer.from('x'))).byteLength, 32, 'the probe after open_ms succeeds');
  t.true(backend.isReady());
  t.is(backend.stats().breaker, 'closed');
});

test('a sealed Vault (503): unavailable, breaker opens, and everything recovers by itself once Vault is unsealed', async (t) => {
  const { vault, backend } = await setup(t, { circuit_breaker: { failure_threshold: 3, open_ms: 200 } });
  vault.faults.sealed(600);
  const outcomes: string[] = [];
  const deadline = Date.now() + 1_500;
  while (Date.now() < deadline) {
    outcomes.push(await backend.mac('m', 1, Buffer.from('x')).then(() => 'ok', (err) => codeOf(err)));
    await sleep(20);
  }
  t.true(outcomes.includes('unavailable'));
  t.is(outcomes.at(-1), 'ok', 'recovered without any help');
  t.deepEqual([...new Set(outcomes)].sort(), ['ok', 'unavailable']);
  const firstOk = outcomes.indexOf('ok');
  t.true(outcomes.slice(firstOk).every((o) => o === 'ok'), 'no flapping once recovered');
});

test('never more than max_concurrent_requests in flight; the rest wait their turn and succeed', async (t) => {
  const { vault, backend } = await setup(t, { max_concurrent_requests: 4, request_timeout_ms: 5_000 });
  vault.faults.latency(30);
  vault.maxInFlight = 0;
  const macs = await Promise.all(Array.from({ length: 40 }, (_, i) => backend.mac('m', 1, Buffer.from(`message ${i}`))));
  t.is(new Set(macs.map((m) => m.toString('hex'))).size, 40);
  t.true(vault.maxInFlight <= 4, `max in flight ${vault.maxInFlight}`);
  t.is(vault.maxInFlight, 4, 'and the bound is used');
});

test('a request that waits longer than request_timeout_ms for a free slot fails unavailable (overloaded), instead of queueing without end', async (t) => {
  const { vault, backend } = await setup(t, { max_concurrent_requests: 2, request_timeout_ms: 1_000, circuit_breaker: { failure_threshold: 100, open_ms: 100 } });
  vault.faults.latency(400);
  const outcomes = await Promise.all(
    Array.from({ length: 10 }, (_, i) => backend.mac('m', 1, Buffer.from(`m${i}`)).then(() => 'ok', (err: unknown) => `${codeOf(err)}: ${(err as Error).message}`)),
  );
  t.true(outcomes.filter((o) => o === 'ok').length >= 4, outcomes.join('\n'));
  const overloaded = outcomes.filter((o) => o !== 'ok');
  t.true(overloaded.length >= 1, 'some could not get a slot in time');
  for (const o of overloaded) t.regex(o, /^unavailable: .*more than 2 concurrent requests to Vault; waited 1000 ms for a slot/);
  t.true(vault.maxInFlight <= 2);
});

test('a backend that cannot reach Vault at start refuses to open with unavailable', async (t) => {
  const vault = await startVaultServer();
  const address = vault.address;
  await vault.close();
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-res-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  writeFileSync(join(dir, 't'), 'hvs.not-a-real-token-0123456789', { mode: 0o600 });
  const err = await t.throwsAsync(
    openVaultBackend(vaultSettings({ type: 'vault', address, auth: { method: 'token', token: { file: join(dir, 't') } }, retry: { base_delay_ms: 1, max_delay_ms: 2 } })),
  );
  t.is(codeOf(err), 'unavailable');
  t.regex(err!.message, /ECONNREFUSED/);
});
