// Ciphertexts outlive the process: what one daemon sealed, a new daemon on the same
// keystore opens, including versions made by rotation before the restart.
import test from 'ava';
import { rmSync } from 'node:fs';
import { startTestDaemon } from '../support/test-daemon.js';

test('a ciphertext made before a daemon restart decrypts after it, across rotations', async (t) => {
  const first = await startTestDaemon();
  const dir = first.dir;
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const v1 = await first.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('before restart, v1'), associatedData: Buffer.from('a') });
  await first.admin.rotateKey({ keyId: 'alpha' });
  const v2 = await first.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('before restart, v2') });
  t.is(v2.keyVersion, 2);
  await first.stop();

  const second = await startTestDaemon({ dir });
  t.teardown(() => second.stop());
  t.is(Buffer.from((await second.client.decrypt({ ciphertext: v1.ciphertext, associatedData: Buffer.from('a') })).plaintext).toString(), 'before restart, v1');
  t.is(Buffer.from((await second.client.decrypt({ ciphertext: v2.ciphertext })).plaintext).toString(), 'before restart, v2');
  const after = await second.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('after') });
  t.is(after.keyVersion, 2, 'the primary version survives the restart');
  const described = await second.admin.describeKey({ keyId: 'alpha' });
  t.deepEqual(described.key!.versions.map((v) => v.version), [1, 2]);
});
