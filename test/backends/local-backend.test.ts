// The local backend: the shared contract, plus what is its own — the root key file,
// file modes, refusing to start on a keystore it cannot read, escrow export and import.
import test from 'ava';
import { chmodSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import type { KeyBackend } from '../../src/core/key-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { SecretBytes } from '../../src/core/secret-bytes.js';
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

test('escrow export and import: an equal version verifies, other material is already-exists, a missing one is added beside a concurrent rotation, the primary stays', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const b = await openLocal(dir);
  t.teardown(() => b.close());
  await b.ensureKey(spec);
  await b.rotateKey('k');
  const v1 = await b.exportForEscrow('k', 1);
  const wrapped = await b.generateDataKey('k', 1);
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p)) as { code?: string }).code;

  t.is((await b.importFromEscrow('k', 1, v1, true)).result, 'verified');
  t.is(await code(b.importFromEscrow('k', 1, await b.exportForEscrow('k', 2), false)), 'already-exists');
  t.is(await code(b.importFromEscrow('k', 1, SecretBytes.random(31), false)), 'failed-precondition', 'not an AES-256 key');
  t.is(await code(b.exportForEscrow('k', 7)), 'not-found');

  // The keystore loses version 1 (a partial restore); a fresh backend no longer has it.
  const path = join(dir, 'keys', 'k.json');
  const file = JSON.parse(readFileSync(path, 'utf8')) as { versions: { version: number }[] };
  writeFileSync(path, JSON.stringify({ ...file, versions: file.versions.filter((v) => v.version !== 1) }));
  const again = await openLocal(dir);
  t.teardown(() => again.close());
  await again.ensureKey(spec);
  t.is(await code(again.unwrapDataKey('k', 1, wrapped.wrapped)), 'not-found');
  t.is(await code(again.importFromEscrow('k', 1, v1, true)), 'not-found', 'verify-only never imports');
  // Rotations before and after it: each rewrite of the key file starts from the last one.
  const [, imported, rotated] = await Promise.all([again.rotateKey('k'), again.importFromEscrow('k', 1, v1, false), again.rotateKey('k')]);
  t.is(imported.result, 'imported');
  t.deepEqual(imported.versions.versions.map((v) => v.version), [1, 2, 3], 'the import ran after the first rotation, on its file');
  t.is(imported.versions.primaryVersion, 3, 'the import leaves the primary alone');
  t.deepEqual(rotated.versions.map((v) => v.version), [1, 2, 3, 4], 'the second rotation ran after the import, on its file');
  t.deepEqual(Buffer.from((await again.unwrapDataKey('k', 1, wrapped.wrapped)).expose()), Buffer.from(wrapped.plaintext.expose()));
  const onDisk = JSON.parse(readFileSync(path, 'utf8')) as { primary_version: number; versions: { version: number }[] };
  t.deepEqual([onDisk.primary_version, onDisk.versions.map((v) => v.version)], [4, [1, 2, 3, 4]]);
  v1.dispose();
});

test('offline recovery: a missing key is created with the recovered version primary, the highest recovered one stays primary, an existing key keeps its primary, and ensureKey then generates nothing', async (t) => {
  const source = makeTempDir('keyward-local-');
  const target = makeTempDir('keyward-local-');
  const generated = makeTempDir('keyward-local-');
  t.teardown(() => [source, target, generated].forEach((d) => rmSync(d, { recursive: true, force: true })));
  const a = await openLocal(source);
  await a.ensureKey(spec);
  await a.rotateKey('k');
  const [v1, v2] = [await a.exportForEscrow('k', 1), await a.exportForEscrow('k', 2)];
  const wrapped = await a.generateDataKey('k', 1);
  await a.close();
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p)) as { code?: string }).code;

  const b = await openLocal(target);
  const mac = { ...spec, purpose: 'mac', algorithm: 'hmac-sha256' } as const;
  t.is(await code(b.recoverFromEscrow(spec, 1, SecretBytes.random(31))), 'failed-precondition', 'not an AES-256 key');
  t.deepEqual(readdirSync(join(target, 'keys')), [], 'a refused recovery creates no key file');
  const first = await b.recoverFromEscrow(spec, 2, v2);
  t.is(first.result, 'imported');
  t.deepEqual([first.versions.primaryVersion, first.versions.versions.map((v) => v.version)], [2, [2]]);
  const second = await b.recoverFromEscrow(spec, 1, v1);
  t.deepEqual([second.versions.primaryVersion, second.versions.versions.map((v) => v.version)], [2, [1, 2]], 'v1 after v2 leaves v2 primary');
  t.is(await code(b.recoverFromEscrow(mac, 3, v1)), 'failed-precondition', 'the key exists as another kind');
  await b.close();
  const onDisk = JSON.parse(readFileSync(join(target, 'keys', 'k.json'), 'utf8')) as { created_by?: string; primary_version: number };
  t.deepEqual([onDisk.created_by, onDisk.primary_version], ['escrow-recovery', 2]);

  const started = await openLocal(target);
  t.teardown(() => started.close());
  const ensured = await started.ensureKey(spec);
  t.is(ensured.generated, undefined, 'the recovered key is found, not generated');
  t.deepEqual(Buffer.from((await started.unwrapDataKey('k', 1, wrapped.wrapped)).expose()), Buffer.from(wrapped.plaintext.expose()));

  const c = await openLocal(generated);
  t.teardown(() => c.close());
  await c.ensureKey(spec);
  const added = await c.recoverFromEscrow(spec, 2, v2);
  t.is(added.versions.primaryVersion, 1, 'a key recovery did not create keeps its primary');
  v1.dispose();
  v2.dispose();
});

test('a destroyed version: nothing to escrow, and a recovery does not undo the destruction (failed-precondition both ways)', async (t) => {
  const dir = makeTempDir('keyward-local-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const first = await openLocal(dir);
  await first.ensureKey(spec);
  await first.rotateKey('k');
  const v1 = await first.exportForEscrow('k', 1);
  await first.close();
  // Version 1 destroyed as the keystore records it: the state, and no material.
  const path = join(dir, 'keys', 'k.json');
  const file = JSON.parse(readFileSync(path, 'utf8')) as { versions: Array<{ version: number; state: string; material?: string }> };
  writeFileSync(path, JSON.stringify({ ...file, versions: file.versions.map((v) => (v.version === 1 ? { version: 1, state: 'destroyed', created_at: new Date().toISOString() } : v)) }));
  const b = await openLocal(dir);
  t.teardown(() => b.close());
  await b.ensureKey(spec);
  const exported = (await t.throwsAsync(b.exportForEscrow('k', 1))) as { code?: string; message?: string };
  t.is(exported.code, 'failed-precondition');
  t.is(exported.message, 'version 1 of key "k" is destroyed: there is nothing to escrow');
  const imported = (await t.throwsAsync(b.importFromEscrow('k', 1, v1, false))) as { code?: string; message?: string };
  t.is(imported.code, 'failed-precondition');
  t.is(imported.message, 'version 1 of key "k" was destroyed; a recovery does not undo a destruction');
});
