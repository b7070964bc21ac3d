// The local backend: the shared contract, plus what is its own — the root key file,
// file modes, refusing to start on a keystore it cannot read.
import test from 'ava';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import type { KeyBackend } from '../../src/core/key-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { makeTempDir } from '../support/test-daemon.js';
import { runKeyBackendContract } from './key-backend-contract.js';

const dirs: string[] = [];
const dirOf = new WeakMap<KeyBackend, string>();

async function openLocal(dir: string): Promise<LocalBackend> {
  const backend = new LocalBackend({ name: 'local', keystoreDir: dir, logger: silentLogger });
  await backend.open();
  dirOf.set(backend, dir);
  return backend;
}

runKeyBackendContract('local', {
  create: async () => {
    const dir = makeTempDir('keyward-local-');
    dirs.push(dir);
    return openLocal(dir);
  },
  reopen: async (previous) => openLocal(dirOf.get(previous)!),
  cleanup: async () => {
    for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
  },
});

const spec = { keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' } as const;

test('the root key file is created 0600 with 32 bytes, key files 0600, and no temp files remain', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await openLocal(dir);
  await b.ensureKey(spec);
  await b.rotateKey('k');
  await b.close();
  t.is(statSync(join(dir, 'root.key')).mode & 0o777, 0o600);
  t.is(statSync(join(dir, 'root.key')).size, 32);
  t.is(statSync(join(dir, 'keys', 'k.json')).mode & 0o777, 0o600);
  t.is(statSync(join(dir, 'keys')).mode & 0o777, 0o700);
  t.deepEqual(readdirSync(join(dir, 'keys')), ['k.json']);
  const file = JSON.parse(readFileSync(join(dir, 'keys', 'k.json'), 'utf8')) as { versions: { material: string }[] };
  t.is(file.versions.length, 2);
  // nonce + 32-byte key + tag: the material is wrapped, not the raw key.
  t.is(Buffer.from(file.versions[0]!.material, 'base64').byteLength, 12 + 32 + 16);
});

test('a missing root key with existing key files refuses to start (failed-precondition)', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await openLocal(dir);
  await b.ensureKey(spec);
  await b.close();
  rmSync(join(dir, 'root.key'));
  const err = await t.throwsAsync(openLocal(dir));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.regex(err!.message, /root key file .* is missing but .* holds keys/);
});

test('a root key file readable by others refuses to start', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  await (await openLocal(dir)).close();
  chmodSync(join(dir, 'root.key'), 0o644);
  const err = await t.throwsAsync(openLocal(dir));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.regex(err!.message, /readable by group or others \(mode 644\)/);
});

test('another root key cannot unwrap the keystore: refused with failed-precondition, no key bytes in the message', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await openLocal(dir);
  await b.ensureKey(spec);
  await b.close();
  writeFileSync(join(dir, 'root.key'), Buffer.alloc(32, 0x42), { mode: 0o600 });
  const other = await openLocal(dir);
  const err = await t.throwsAsync(other.ensureKey(spec));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.regex(err!.message, /does not unwrap under the root key/);
  t.false(err!.message.includes('4242'));
});

test('RSA-4096 signing runs off the event loop: the loop idles while 16 signatures run, unlike signing on it', async (t) => {
  const { performance } = await import('node:perf_hooks');
  const { createPrivateKey, sign } = await import('node:crypto');
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await openLocal(dir);
  t.teardown(() => b.close());
  await b.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'local' });
  await b.sign('rsa', 1, 'rsa-pkcs1-sha256', { message: Buffer.from('warm') });
  const utilization = async (run: () => Promise<unknown>) => {
    const before = performance.eventLoopUtilization();
    await run();
    return performance.eventLoopUtilization(before).utilization;
  };
  const backendSigning = await utilization(() =>
    Promise.all(Array.from({ length: 16 }, (_, i) => b.sign('rsa', 1, i % 2 ? 'rsa-pss-sha256' : 'rsa-pkcs1-sha256', { message: Buffer.from(`m${i}`) }))),
  );
  // Control: the same work on the main thread, with a key of the same size.
  const { generateKeyPairSync } = await import('node:crypto');
  const control = createPrivateKey(generateKeyPairSync('rsa', { modulusLength: 4096 }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  const onTheLoop = await utilization(async () => {
    for (let i = 0; i < 4; i++) sign('sha256', Buffer.from(`m${i}`), control);
  });
  t.log(`event-loop utilization: backend signing ${backendSigning.toFixed(2)}, signing on the loop ${onTheLoop.toFixed(2)}`);
  // Utilization counts the loop's own busy time; signing on it pins it near 1.
  t.true(onTheLoop > 0.9, `control ${onTheLoop}`);
  t.true(backendSigning < 0.8, `backend signing ${backendSigning}`);
});
