// The registry asks the backend about a version newer than it knows — a key rotated by
// another host — but callers choose that version in a ciphertext header, so the asking
// is shared and rate-limited: 100 concurrent lookups cost one backend call.
import test from 'ava';
import { rmSync } from 'node:fs';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import type { KeyBackend } from '../../src/core/key-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { makeTempDir } from '../support/test-daemon.js';

test('unknown versions: one shared backend refresh, then none within the interval; a real new version is found', async (t) => {
  const dir = makeTempDir('keyward-registry-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const local = new LocalBackend({ name: 'local', keystoreDir: dir, logger: silentLogger });
  await local.open();
  t.teardown(() => local.close());
  let describes = 0;
  const counting: KeyBackend = Object.assign(Object.create(null) as object, {
    name: local.name,
    kind: local.kind,
    ensureKey: (spec: Parameters<KeyBackend['ensureKey']>[0]) => local.ensureKey(spec),
    describeKey: async (keyId: string) => {
      describes++;
      await new Promise((r) => setTimeout(r, 20));
      return local.describeKey(keyId);
    },
  }) as KeyBackend;
  const registry = await KeyRegistry.open([{ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' }], new Map([['local', counting]]));

  const answers = await Promise.all(Array.from({ length: 100 }, () => registry.withVersion('k', 7)));
  t.is(describes, 1, 'one refresh for 100 concurrent callers');
  t.true(answers.every((k) => k.versions.primaryVersion === 1));
  await registry.withVersion('k', 8);
  t.is(describes, 1, 'no second refresh within the interval');

  // Another host rotates: after the interval, the new version is found.
  await local.rotateKey('k');
  await new Promise((r) => setTimeout(r, 1_050));
  const found = await registry.withVersion('k', 2);
  t.is(describes, 2);
  t.is(found.versions.primaryVersion, 2);
  t.is((await registry.withVersion('k', 2)).versions.primaryVersion, 2, 'known now: no refresh');
  t.is(describes, 2);
});
