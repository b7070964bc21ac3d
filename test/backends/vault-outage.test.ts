// Vault down for 30 s (KEYWARD_VAULT_OUTAGE_MS to change it) under steady traffic,
// through the real keyring and caches: calls the DEK cache serves keep working at full
// speed; calls that need Vault get UNAVAILABLE fast (the circuit breaker, not timeouts);
// the AppRole token expires during the outage; and when Vault is back everything
// recovers by itself — breaker, token (a new login), key polling — with no help.
import test from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DecryptionDekCache } from '../../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../../src/cache/encryption-dek-cache.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { parseEnvelope } from '../../src/crypto/envelope-format.js';
import { EnvelopeKeyring } from '../../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { sleep } from '../support/deferred.js';
import { openVaultBackend, recordingLogger, vaultSettings } from '../support/vault-server/backend-harness.js';
import { startVaultServer } from '../support/vault-server.js';

const OUTAGE_MS = Number(process.env['KEYWARD_VAULT_OUTAGE_MS'] ?? 30_000);
const TICK_MS = 100;
const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const none = Buffer.alloc(0);

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

test(`Vault down ${OUTAGE_MS / 1000} s: cached calls keep working, others are UNAVAILABLE fast, all recovers by itself`, async (t) => {
  t.timeout(OUTAGE_MS + 60_000);
  const vault = await startVaultServer();
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-outage-'));
  vault.setPolicy('keyward', [{ path: 'transit/*', capabilities: ['create', 'read', 'update'] }]);
  // The token lives a third of the outage (1 to 6 s): it expires during the outage, since
  // renewals cannot reach Vault.
  const ttl = Math.max(1, Math.min(6, Math.floor(OUTAGE_MS / 3_000)));
  const { roleId, secretId } = vault.approle.addRole('keyward', { policies: ['keyward'], tokenTtlSeconds: ttl });
  writeFileSync(join(dir, 'rid'), roleId, { mode: 0o600 });
  writeFileSync(join(dir, 'sid'), secretId, { mode: 0o600 });
  const log = recordingLogger();
  const backend = await openVaultBackend(
    vaultSettings({
      type: 'vault',
      address: vault.address,
      auth: { method: 'approle', role_id: { file: join(dir, 'rid') }, secret_id: { file: join(dir, 'sid') } },
      request_timeout_ms: 1_000,
      retry: { max_attempts: 3, base_delay_ms: 50, max_delay_ms: 400 },
      circuit_breaker: { failure_threshold: 5, open_ms: 2_000 },
      key_poll_interval_ms: 1_000,
    }),
    { logger: log.logger },
  );
  const registry = await KeyRegistry.open([{ keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }], new Map([['vault', backend]]));
  const key = registry.get('kek');
  // The daemon's default cache limits.
  const encryptCache = new EncryptionDekCache({ maxAgeMs: 300_000, maxMessages: 2 ** 20, maxBytes: 2 ** 30, maxKeys: 1_024 });
  const decryptCache = new DecryptionDekCache({ ttlMs: 300_000, maxEntries: 10_000 });
  const keyring = new EnvelopeKeyring(encryptCache, decryptCache);
  // Ciphertexts with DEKs of their own that this keyring has not seen: each needs Vault.
  const foreignEncrypt = new EncryptionDekCache({ maxAgeMs: 300_000, maxMessages: 1, maxBytes: 2 ** 30, maxKeys: 16 });
  const foreignDecrypt = new DecryptionDekCache({ ttlMs: 300_000, maxEntries: 10 });
  t.teardown(async () => {
    for (const c of [encryptCache, decryptCache, foreignEncrypt, foreignDecrypt]) c.close();
    await backend.close();
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const foreignKeyring = new EnvelopeKeyring(foreignEncrypt, foreignDecrypt);
  const needed = Math.ceil(OUTAGE_MS / TICK_MS) + 200;
  const foreign: Buffer[] = [];
  for (let i = 0; i < needed; i++) foreign.push((await foreignKeyring.seal(key, 1, Buffer.from(`foreign ${i}`), none)).ciphertext);
  const cached = await keyring.seal(key, 1, Buffer.from('cached'), none);
  const loginsBefore = vault.approle.logins;

  const served: number[] = [];
  const refused: number[] = [];
  const unexpected: string[] = [];
  let next = 0;
  const sentBefore = backend.stats().requests;
  vault.faults.down(OUTAGE_MS);
  const downAt = Date.now();
  while (Date.now() - downAt < OUTAGE_MS - 200) {
    let started = Date.now();
    const opened = await keyring.open(key, parseEnvelope(cached.ciphertext), none).catch((err: unknown) => err);
    const sealed = await keyring.seal(key, 1, Buffer.from('during the outage'), none).catch((err: unknown) => err);
    served.push(Date.now() - started);
    if (!(opened && 'plaintext' in (opened as object) && (opened as { plaintext: Buffer }).plaintext.toString() === 'cached')) unexpected.push(`cached decrypt: ${codeOf(opened)}`);
    if (!(sealed && 'ciphertext' in (sealed as object))) unexpected.push(`cached encrypt: ${codeOf(sealed)}`);
    started = Date.now();
    const missed = await keyring.open(key, parseEnvelope(foreign[next++]!), none).then(() => 'ok', (err: unknown) => codeOf(err));
    refused.push(Date.now() - started);
    if (missed !== 'unavailable') unexpected.push(`uncached decrypt during the outage: ${missed}`);
    await sleep(TICK_MS);
  }
  t.deepEqual(unexpected, []);
  t.false(backend.isReady(), 'health says the backend cannot serve Vault calls now');
  const attemptsWhileDown = backend.stats().requests - sentBefore;

  // Vault is back. Nobody does anything but keep calling.
  await sleep(Math.max(0, downAt + OUTAGE_MS - Date.now()));
  const upAt = Date.now();
  let recoveredAfter: number | undefined;
  while (Date.now() - upAt < 15_000) {
    const outcome = await keyring.open(key, parseEnvelope(foreign[next++]!), none).then(() => 'ok', (err: unknown) => codeOf(err));
    if (outcome === 'ok') {
      recoveredAfter = Date.now() - upAt;
      break;
    }
    await sleep(TICK_MS);
  }
  t.not(recoveredAfter, undefined, 'recovered by itself');
  const after = await Promise.all(Array.from({ length: 50 }, () => keyring.open(key, parseEnvelope(foreign[next++]!), none).then(() => 'ok', (err: unknown) => codeOf(err))));
  t.deepEqual([...new Set(after)], ['ok'], 'and stays recovered, under concurrency');
  t.true(backend.isReady());
  t.true(vault.approle.logins > loginsBefore, 'the token expired during the outage: a new login, by itself');

  const figures = {
    outage_s: OUTAGE_MS / 1000,
    cached_calls: served.length,
    cached_p50_ms: percentile(served, 50),
    cached_max_ms: Math.max(...served),
    unavailable_calls: refused.length,
    unavailable_first_ms: refused[0],
    unavailable_p50_ms: percentile(refused, 50),
    unavailable_p99_ms: percentile(refused, 99),
    unavailable_max_ms: Math.max(...refused),
    recovered_after_ms: recoveredAfter,
    attempts_while_down: attemptsWhileDown,
    logins: vault.approle.logins,
  };
  t.log(JSON.stringify(figures));
  t.true(figures.cached_max_ms < 50, 'cache-served calls never wait on Vault');
  t.true(figures.unavailable_p50_ms < 20, 'UNAVAILABLE fast: the breaker answers, not timeouts');
  t.true(figures.unavailable_max_ms < 3_000, 'no call waited longer than a few attempts');
  t.true(recoveredAfter! <= 2_000 + 1_000, 'recovered within one breaker open period (+1 s)');
  t.false(log.lines.some((l) => l.includes(secretId) || l.includes(roleId)));
  const warnings = log.events().filter((e) => e['level'] === 'warn' || e['level'] === 'error');
  t.log(`${log.lines.length} log lines, ${warnings.length} warnings, for ${refused.length} refused calls`);
  t.true(warnings.length <= 10 + OUTAGE_MS / 10_000, 'an outage is reported, not one line per call');
});
