// `make bench`, the HSM part (bench/run.ts calls runHsmBench): on a fresh SoftHSM2 token,
// (1) Decrypt of 1 KiB in process — parse, registry checks, DEK lookup, open — with a warm
// DEK cache, against the same call with the cache purged before every call so the DEK is
// unwrapped in the HSM each time; (2) raw DEK unwraps at the pool's concurrency; (3) sign
// and MAC operations per second per algorithm in the HSM, one at a time and with every
// session busy. Prints a table; never fails the bench on the numbers. Settings:
//   BENCH_HSM_SECONDS=2  BENCH_HSM_WARMUP_SECONDS=0.5
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DEFAULT_SESSIONS, Pkcs11Backend } from '../src/backends/pkcs11/pkcs11-backend.js';
import { DecryptionDekCache } from '../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../src/cache/encryption-dek-cache.js';
import type { SignatureScheme } from '../src/core/key-backend.js';
import type { KeySpec } from '../src/core/key-types.js';
import { silentLogger } from '../src/core/logger.js';
import { parseEnvelope } from '../src/crypto/envelope-format.js';
import { EnvelopeKeyring } from '../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../src/keys/key-registry.js';
import { createSoftHsmToken } from '../test/support/softhsm-token.js';

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return Number.isFinite(value) && value > 0 && value <= 600 ? value : fallback;
}

interface Rate {
  readonly ops: number;
  readonly opsPerSecond: number;
  readonly meanMicros: number;
}

/** Runs `op` with `concurrency` loops for the warm-up, then measures for `duration` s. */
async function measure(op: () => Promise<unknown>, concurrency: number, warmup: number, duration: number): Promise<Rate> {
  const loop = async (until: number, counter: { n: number }) => {
    while (performance.now() < until) {
      await op();
      counter.n++;
    }
  };
  const warm = { n: 0 };
  const warmUntil = performance.now() + warmup * 1000;
  await Promise.all(Array.from({ length: concurrency }, () => loop(warmUntil, warm)));
  const counted = { n: 0 };
  const start = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop(start + duration * 1000, counted)));
  const elapsed = (performance.now() - start) / 1000;
  return { ops: counted.n, opsPerSecond: counted.n / elapsed, meanMicros: (elapsed * 1e6 * concurrency) / Math.max(1, counted.n) };
}

const fmt = (r: Rate) => `${Math.round(r.opsPerSecond).toLocaleString('en').padStart(9)} ops/s  ${r.meanMicros.toFixed(0).padStart(7)} µs/op`;

export async function runHsmBench(): Promise<void> {
  const warmup = seconds('BENCH_HSM_WARMUP_SECONDS', 0.5);
  const duration = seconds('BENCH_HSM_SECONDS', 2);
  const previousConf = process.env['SOFTHSM2_CONF'];
  const token = createSoftHsmToken('keyward-bench');
  const out = (line = '') => process.stdout.write(`${line}\n`);
  const backend = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    keyPrefix: 'bench',
    createMissingKeys: true,
    logger: silentLogger,
  });
  try {
    await backend.open();
    const specs: KeySpec[] = [
      { keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' },
      { keyId: 'ed25519', purpose: 'sign', algorithm: 'ed25519', backend: 'hsm' },
      { keyId: 'p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'hsm' },
      { keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'hsm' },
      { keyId: 'mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'hsm' },
    ];
    const registry = await KeyRegistry.open(specs, new Map([['hsm', backend]]));
    const encryptCache = new EncryptionDekCache({ maxAgeMs: 3_600_000, maxMessages: 2 ** 32, maxBytes: 2 ** 50, maxKeys: 16 });
    const decryptCache = new DecryptionDekCache({ ttlMs: 3_600_000, maxEntries: 1_000 });
    const keyring = new EnvelopeKeyring(encryptCache, decryptCache);
    const key = registry.get('kek');
    const sealed = await keyring.seal(key, 1, randomBytes(1024), Buffer.alloc(0));
    // What service/decrypt does for one call: parse, purpose and version checks, open.
    const decryptOnce = async () => {
      const envelope = parseEnvelope(sealed.ciphertext);
      const k = registry.forPurpose(envelope.keyId, 'encrypt', 'decrypt');
      registry.usableVersion(k, envelope.keyVersion);
      return (await keyring.open(k, envelope, Buffer.alloc(0))).cacheHit;
    };

    out(`HSM backend (SoftHSM2 ${token.module}, ${DEFAULT_SESSIONS} sessions): ${duration} s per row after ${warmup} s of warm-up`);
    out();
    out('Decrypt of 1 KiB in process (one call at a time)');
    const warm = await measure(async () => {
      if (!(await decryptOnce())) throw new Error('expected a cache hit');
    }, 1, warmup, duration);
    const cold = await measure(async () => {
      decryptCache.purge('kek');
      if (await decryptOnce()) throw new Error('expected a cache miss');
    }, 1, warmup, duration);
    out(`  warm DEK cache               ${fmt(warm)}`);
    out(`  unwrap in the HSM every call ${fmt(cold)}`);
    out(`  ratio warm / unwrap-every-call: ${(warm.opsPerSecond / cold.opsPerSecond).toFixed(1)}x (goal >= 10x)`);
    out();

    const dk = await backend.generateDataKey('kek', 1);
    const unwrap = async () => (await backend.unwrapDataKey('kek', 1, dk.wrapped)).dispose();
    out('DEK operations in the HSM');
    out(`  unwrap, 1 at a time          ${fmt(await measure(unwrap, 1, warmup, duration))}`);
    out(`  unwrap, ${DEFAULT_SESSIONS} at a time          ${fmt(await measure(unwrap, DEFAULT_SESSIONS, warmup, duration))}`);
    out(`  wrap (generateDataKey), ${DEFAULT_SESSIONS}    ${fmt(await measure(async () => (await backend.generateDataKey('kek', 1)).plaintext.dispose(), DEFAULT_SESSIONS, warmup, duration))}`);
    out();

    out('Sign and MAC in the HSM (1 at a time | all sessions busy)');
    const message = randomBytes(256);
    const rows: Array<[string, () => Promise<unknown>]> = [
      ...(
        [
          ['ed25519', 'ed25519'],
          ['p256', 'ecdsa-p256-sha256'],
          ['rsa', 'rsa-pkcs1-sha256'],
          ['rsa', 'rsa-pss-sha256'],
        ] as Array<[string, SignatureScheme]>
      ).map(([keyId, scheme]): [string, () => Promise<unknown>] => [scheme, () => backend.sign(keyId, 1, scheme, { message })]),
      ['hmac-sha256', () => backend.mac('mac', 1, message)],
    ];
    for (const [name, op] of rows) {
      const one = await measure(op, 1, warmup, duration);
      const many = await measure(op, DEFAULT_SESSIONS, warmup, duration);
      out(`  ${name.padEnd(18)} ${fmt(one)} | ${fmt(many)}`);
    }
    out();
    encryptCache.close();
    decryptCache.close();
  } finally {
    await backend.close();
    token.cleanup();
    if (previousConf === undefined) delete process.env['SOFTHSM2_CONF'];
    else process.env['SOFTHSM2_CONF'] = previousConf;
  }
}

if (process.argv[1] !== undefined && import.meta.url === new URL(`file://${process.argv[1]}`).href) {
  runHsmBench().catch((err: unknown) => {
    process.stderr.write(`hsm bench failed: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exitCode = 1;
  });
}
