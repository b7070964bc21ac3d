// Secrets in responses are zeroized after serialization — and also when the call is
// cancelled first (the client's deadline passes while Decrypt waits on an unwrap), since
// grpc-js never serializes a cancelled call's response.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { DataPlaneServer } from '../../src/api/data-plane-server.js';
import { LocalBackend } from '../../src/backends/local/local-backend.js';
import { DecryptionDekCache } from '../../src/cache/decryption-dek-cache.js';
import { EncryptionDekCache } from '../../src/cache/encryption-dek-cache.js';
import { createKeyServiceClient } from '../../src/client/keyward-client.js';
import { noopCallObserver } from '../../src/core/call-observer.js';
import { silentLogger } from '../../src/core/logger.js';
import { EnvelopeKeyring } from '../../src/keys/envelope-keyring.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { PublicKeyring } from '../../src/keys/public-keyring.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir } from '../support/test-daemon.js';
import { allowAllCallers } from '../support/allow-all-callers.js';

test('a Decrypt whose caller gave up before the answer leaves no plaintext behind', async (t) => {
  const dir = makeTempDir('keyward-wipe-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const backend = new LocalBackend({ name: 'local', keystoreDir: join(dir, 'keystore'), logger: silentLogger });
  await backend.open();
  const registry = await KeyRegistry.open([{ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' }], new Map([['local', backend]]));
  const encryptCache = new EncryptionDekCache({ maxAgeMs: 60_000, maxMessages: 1000, maxBytes: 1 << 20, maxKeys: 4 });
  const decryptCache = new DecryptionDekCache({ ttlMs: 60_000, maxEntries: 16 });
  const real = new EnvelopeKeyring(encryptCache, decryptCache);
  const produced: Buffer[] = [];
  // The keyring as the use case sees it, but slow to open and keeping a reference to
  // each plaintext it hands out, so the test can look at that memory afterwards.
  const keyring = {
    seal: real.seal.bind(real),
    purge: real.purge.bind(real),
    open: async (...args: Parameters<EnvelopeKeyring['open']>) => {
      await new Promise((r) => setTimeout(r, 300));
      const opened = await real.open(...args);
      produced.push(opened.plaintext);
      return opened;
    },
  } as unknown as EnvelopeKeyring;
  const server = new DataPlaneServer({
    callers: allowAllCallers(),
    socket: { path: join(dir, 'keyward.sock'), mode: 0o600 },
    deps: {
      registry,
      keyring,
      publicKeys: new PublicKeyring(),
      limits: { maxPlaintextBytes: 1 << 16, maxAssociatedDataBytes: 1 << 10, maxBatchItems: 10, maxBatchBytes: 1 << 20 },
    },
    backends: [backend],
    logger: silentLogger,
    observer: noopCallObserver,
  });
  await server.start();
  const client = createKeyServiceClient(join(dir, 'keyward.sock'));
  t.teardown(async () => {
    client.close();
    await server.stop(100);
    encryptCache.close();
    decryptCache.close();
    await backend.close();
  });

  const secret = Buffer.from('a plaintext the caller stopped waiting for');
  const { ciphertext } = await client.encrypt({ keyId: 'k', plaintext: secret });
  await rejectsWithCode(t, client.decrypt({ ciphertext }, { timeoutMs: 50 }), status.DEADLINE_EXCEEDED);
  await new Promise((r) => setTimeout(r, 500));
  t.is(produced.length, 1, 'the server finished the Decrypt after the deadline');
  t.true(produced[0]!.equals(Buffer.alloc(secret.length)), 'and zeroized the plaintext it could not send');

  // The ordinary path: the plaintext is sent, then zeroized in the server's memory.
  const answer = await client.decrypt({ ciphertext });
  t.deepEqual(Buffer.from(answer.plaintext), secret);
  t.true(produced[1]!.equals(Buffer.alloc(secret.length)));
});
