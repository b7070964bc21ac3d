// The Vault backend's figures for `make bench`, against the test Vault (an HTTP server
// in this process, real AES-GCM, no network latency — a real Vault is slower, so the
// gap only widens): (1) Vault calls per 10,000 Encrypts of 1 KiB with the default cache
// limits (goal ≤ 1), and (2) Decrypt ops/s with a warm DEK cache against Decrypt ops/s
// when every call has to unwrap its DEK in Vault. Both through a real daemon over its
// Unix socket. Settings: BENCH_SECONDS (5), BENCH_WARMUP_SECONDS (3) as for the rest.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestDaemon, type TestDaemon } from '../test/support/test-daemon.js';
import { startVaultServer, type TestVaultServer } from '../test/support/vault-server.js';
import { runLoad } from './load-runner.js';

const ENCRYPTS = 10_000;
const CONCURRENCY = 16;
const PAYLOAD = Buffer.alloc(1024, 0x61);
const COLD_CIPHERTEXTS = 2_000;

const seconds = (name: string, fallback: number) => {
  const v = Number(process.env[name]);
  return Number.isFinite(v) && v > 0 ? v : fallback;
};

async function daemonOn(vault: TestVaultServer, dir: string, cache?: Record<string, unknown>): Promise<TestDaemon> {
  const tokenFile = join(dir, `token-${Math.random().toString(36).slice(2)}`);
  writeFileSync(tokenFile, vault.rootToken, { mode: 0o600 });
  return startTestDaemon({
    overrides: {
      backends: { vault: { type: 'vault', address: vault.address, auth: { method: 'token', token: { file: tokenFile } } } },
      keys: [{ id: 'bench', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }],
      ...(cache ? { cache } : {}),
    },
  });
}

/** Runs `total` calls of `call` with `concurrency` in flight. */
async function runCount(total: number, concurrency: number, call: () => Promise<unknown>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < total) {
        next++;
        await call();
      }
    }),
  );
}

const fmt = (n: number) => Math.round(n).toLocaleString('en-US');

export async function runVaultBench(): Promise<void> {
  const durationMs = seconds('BENCH_SECONDS', 5) * 1_000;
  const warmupMs = seconds('BENCH_WARMUP_SECONDS', 3) * 1_000;
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-bench-'));
  const vault = await startVaultServer();
  const daemons: TestDaemon[] = [];
  const out = (line: string) => process.stdout.write(`${line}\n`);
  try {
    out('\n== Vault backend: the test Vault, the daemon and the client share this process (compare the ratio; a real Vault adds network and its own latency) ==');

    // (1) Vault calls per 10,000 Encrypts, default cache limits.
    const d = await daemonOn(vault, dir);
    daemons.push(d);
    const dekCalls = () => vault.count((r) => r.path.startsWith('transit/datakey/') || r.path.startsWith('transit/encrypt/'));
    const allCalls = () => vault.count((r) => r.path.startsWith('transit/') || r.path.startsWith('auth/'));
    const [dekBefore, allBefore] = [dekCalls(), allCalls()];
    const started = Date.now();
    await runCount(ENCRYPTS, CONCURRENCY, () => d.client.encrypt({ keyId: 'bench', plaintext: PAYLOAD }));
    const encryptMs = Date.now() - started;
    const dekCallsMade = dekCalls() - dekBefore;
    out(`Encrypt 1 KiB x ${fmt(ENCRYPTS)} (default cache limits, ${CONCURRENCY} in flight): ${dekCallsMade} DEK call(s) to Vault ` +
      `(goal <= 1), ${allCalls() - allBefore} Vault request(s) of any kind (key polls included); ${fmt((ENCRYPTS * 1000) / encryptMs)} Encrypts/s`);

    // (2a) Decrypt with a warm cache: every DEK already unwrapped.
    const warm = await Promise.all(Array.from({ length: 64 }, () => d.client.encrypt({ keyId: 'bench', plaintext: PAYLOAD })));
    const warmDecrypts = () => vault.count((r) => r.path.startsWith('transit/decrypt/'));
    const warmBefore = warmDecrypts();
    const warmResult = await runLoad({
      concurrency: CONCURRENCY,
      warmupMs,
      durationMs,
      call: async (w) => {
        await d.client.decrypt({ ciphertext: warm[w % warm.length]!.ciphertext });
      },
      serverPid: process.pid,
    });
    const warmVault = warmDecrypts() - warmBefore;

    // (2b) Decrypt when every call unwraps in Vault: one DEK per ciphertext, a 1-entry, 1 ms decrypt cache.
    const cold = await daemonOn(vault, dir, { encrypt: { max_messages: 1 }, decrypt: { max_entries: 1, ttl_ms: 1 } });
    daemons.push(cold);
    const sealer = await daemonOn(vault, dir, { encrypt: { max_messages: 1 } });
    daemons.push(sealer);
    const ciphertexts: Uint8Array[] = [];
    await runCount(COLD_CIPHERTEXTS, CONCURRENCY, async () => {
      ciphertexts.push((await sealer.client.encrypt({ keyId: 'bench', plaintext: PAYLOAD })).ciphertext);
    });
    let i = 0;
    const coldBefore = warmDecrypts();
    const coldResult = await runLoad({
      concurrency: CONCURRENCY,
      warmupMs,
      durationMs,
      call: async () => {
        await cold.client.decrypt({ ciphertext: ciphertexts[i++ % ciphertexts.length]! });
      },
      serverPid: process.pid,
    });
    const coldVault = warmDecrypts() - coldBefore;
    const coldCalls = coldResult.completedCalls + coldResult.errors;

    out(`Decrypt 1 KiB, warm DEK cache:           ${fmt(warmResult.callsPerSecond)} ops/s (p50 ${(warmResult.p50Micros / 1000).toFixed(2)} ms, p99 ${(warmResult.p99Micros / 1000).toFixed(2)} ms), ${warmVault} Vault decrypts${warmResult.errors ? `, ${warmResult.errors} errors` : ''}`);
    out(`Decrypt 1 KiB, every call unwraps in Vault: ${fmt(coldResult.callsPerSecond)} ops/s (p50 ${(coldResult.p50Micros / 1000).toFixed(2)} ms, p99 ${(coldResult.p99Micros / 1000).toFixed(2)} ms), ${(coldVault / Math.max(1, coldCalls)).toFixed(2)} Vault decrypts per Decrypt${coldResult.errors ? `, ${coldResult.errors} errors` : ''}`);
    out(`Warm cache / every call to Vault: ${(warmResult.callsPerSecond / Math.max(1, coldResult.callsPerSecond)).toFixed(1)}x (${CONCURRENCY} in flight, ${durationMs / 1000} s after ${warmupMs / 1000} s warm-up, same run)`);
  } finally {
    await Promise.allSettled(daemons.map((x) => x.dispose()));
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

// `node dist/bench/vault-bench.js` runs it on its own.
if (import.meta.url === `file://${process.argv[1]}`) {
  runVaultBench().then(
    () => process.exit(0),
    (err: unknown) => {
      process.stderr.write(`vault bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
      process.exit(1);
    },
  );
}
