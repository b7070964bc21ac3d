// Native memory: pkcs11js 2.1.7's C_UnwrapKeyAsync leaks (measured ~450 bytes per call,
// ~22 MB per 50,000), so the backend unwraps DEKs with C_DecryptAsync instead. This file
// proves the path it does use stays flat: RSS after 50,000 unwraps (after a warm-up) is
// where it was, within a margin far below what the leak would add. It also checks that
// no source of the backend calls C_UnwrapKey at all.
import test from 'ava';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { Pkcs11Backend } from '../../src/backends/pkcs11/pkcs11-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSoftHsmToken } from '../support/softhsm-token.js';

const token = createSoftHsmToken('memory');
test.after.always(() => token.cleanup());

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

const UNWRAPS = 50_000;
const WARMUP = 10_000;
const CONCURRENCY = 4;
/** What the C_UnwrapKeyAsync leak would add over 50,000 calls is ~22 MB; allow 1/5 of it. */
const MAX_GROWTH_BYTES = 4 * 1024 * 1024;

function settledRss(): number {
  for (let i = 0; i < 3; i++) gc();
  return process.memoryUsage().rss;
}

test.serial(`RSS stays flat over ${UNWRAPS.toLocaleString('en')} DEK unwraps in the HSM`, async (t) => {
  const backend = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    createMissingKeys: true,
    sessions: CONCURRENCY,
    logger: silentLogger,
  });
  await backend.open();
  t.teardown(() => backend.close());
  await backend.ensureKey({ keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' });
  const dataKeys = await Promise.all(Array.from({ length: 16 }, () => backend.generateDataKey('kek', 1)));

  const run = async (count: number) => {
    let next = 0;
    let mismatches = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < count) {
          const dk = dataKeys[next++ % dataKeys.length]!;
          const dek = await backend.unwrapDataKey('kek', 1, dk.wrapped);
          if (!dek.expose().equals(dk.plaintext.expose())) mismatches++;
          dek.dispose();
        }
      }),
    );
    return mismatches;
  };

  t.is(await run(WARMUP), 0);
  const before = settledRss();
  const started = performance.now();
  t.is(await run(UNWRAPS), 0, 'every unwrap returns the DEK');
  const seconds = (performance.now() - started) / 1000;
  const after = settledRss();
  const growth = after - before;
  const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;
  t.log(`RSS ${mib(before)} -> ${mib(after)} (${growth >= 0 ? '+' : ''}${(growth / UNWRAPS).toFixed(1)} bytes/unwrap); ${UNWRAPS} unwraps in ${seconds.toFixed(1)} s (${Math.round(UNWRAPS / seconds)}/s)`);
  t.true(growth < MAX_GROWTH_BYTES, `RSS grew by ${mib(growth)} over ${UNWRAPS} unwraps`);
});

test('the backend never calls C_UnwrapKey or C_UnwrapKeyAsync', (t) => {
  const dir = join(process.cwd(), 'src', 'backends', 'pkcs11');
  const files = readdirSync(dir).filter((f) => f.endsWith('.ts'));
  t.true(files.length > 5, `found the sources in ${dir}`);
  for (const file of files) {
    const code = readFileSync(join(dir, file), 'utf8').replace(/\/\/.*$/gm, '');
    t.false(/C_UnwrapKey/.test(code), `${file} calls C_UnwrapKey`);
  }
});
