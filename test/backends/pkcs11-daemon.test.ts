// The real daemon on the pkcs11 backend, end to end over its socket: Encrypt and Decrypt,
// a restart, a token outage while it serves, and the crypto-shredding check of policy
// §3.8 — once a KEK version is destroyed in the HSM (C_DestroyObject), a fresh daemon
// process can no longer decrypt what it protected.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { createKeyServiceClient, type KeyServiceClient } from '../../src/client/keyward-client.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { sleep } from '../support/deferred.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { createSoftHsmToken, openRawSession } from '../support/softhsm-token.js';
import { makeTempDir, startTestDaemon, testConfigObject } from '../support/test-daemon.js';

const token = createSoftHsmToken('daemon');
test.after.always(() => token.cleanup());

const KEYS = [
  { id: 'records', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' },
  { id: 'shred-me', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' },
];

function overrides(prefix: string, createMissingKeys = true): Record<string, unknown> {
  return {
    backends: {
      hsm: {
        type: 'pkcs11',
        module: token.module,
        token: token.label,
        pin: { file: token.pinFile },
        key_prefix: prefix,
        create_missing_keys: createMissingKeys,
        reconnect_initial_ms: 20,
        reconnect_max_ms: 200,
      },
    },
    keys: KEYS,
  };
}

const text = (bytes: Uint8Array) => Buffer.from(bytes).toString();

/** `keyward serve` in a process of its own, on the same token (SOFTHSM2_CONF is inherited). */
async function serveInChild(dir: string, configOverrides: Record<string, unknown>): Promise<{ client: KeyServiceClient; stop: () => Promise<void> }> {
  const file = join(dir, 'keyward.yaml');
  writeFileSync(file, stringify(testConfigObject(dir, { ...configOverrides, log: { level: 'info' } })));
  const child: ChildProcess = spawn(process.execPath, [join(process.cwd(), 'dist/src/cli/main.js'), 'serve', '--config', file], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout!.on('data', (c: Buffer) => (output += c.toString()));
  child.stderr!.on('data', (c: Buffer) => (output += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve));
  const until = Date.now() + 20_000;
  while (!output.includes('keyward serving')) {
    if (child.exitCode !== null || Date.now() > until) {
      child.kill('SIGKILL');
      throw new Error(`the daemon did not start: ${output}`);
    }
    await sleep(20);
  }
  const client = createKeyServiceClient(join(dir, 'keyward.sock'));
  return {
    client,
    stop: async () => {
      client.close();
      child.kill('SIGTERM');
      await exited;
    },
  };
}

test.serial('Encrypt and Decrypt over the socket; a restarted daemon decrypts; a token outage is UNAVAILABLE only where the HSM is needed', async (t) => {
  const dir = makeTempDir('keyward-pkcs11-daemon-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const ad = Buffer.from('ad');
  const first = await startTestDaemon({ dir, overrides: overrides('serve') });
  const c0 = await first.client.encrypt({ keyId: 'records', plaintext: Buffer.from('sealed by the first daemon'), associatedData: ad });
  // Another key, so another DEK: the second daemon's caches never hold this one.
  const unseen = await first.client.encrypt({ keyId: 'shred-me', plaintext: Buffer.from('never opened by the second daemon') });
  t.is(c0.keyVersion, 1);
  t.is(text((await first.client.decrypt({ ciphertext: c0.ciphertext, associatedData: ad })).plaintext), 'sealed by the first daemon');
  await first.stop();

  const second = await startTestDaemon({ dir, overrides: overrides('serve') });
  t.teardown(() => second.stop());
  t.is(text((await second.client.decrypt({ ciphertext: c0.ciphertext, associatedData: ad })).plaintext), 'sealed by the first daemon', 'after a restart');
  const c1 = await second.client.encrypt({ keyId: 'shred-me', plaintext: Buffer.from('sealed by the second daemon') });

  token.takeTokensAway();
  try {
    // Served from the DEK caches, without the HSM: these go on.
    t.is(text((await second.client.decrypt({ ciphertext: c1.ciphertext })).plaintext), 'sealed by the second daemon');
    t.is(text((await second.client.decrypt({ ciphertext: c0.ciphertext, associatedData: ad })).plaintext), 'sealed by the first daemon');
    await second.client.encrypt({ keyId: 'shred-me', plaintext: Buffer.from('with the cached DEK') });
    // What needs the HSM is UNAVAILABLE: a rotation, an unwrap of a DEK not in the cache.
    await rejectsWithCode(t, second.admin.rotateKey({ keyId: 'records' }), status.UNAVAILABLE);
    await rejectsWithCode(t, second.client.decrypt({ ciphertext: unseen.ciphertext }), status.UNAVAILABLE);
  } finally {
    token.bringTokensBack();
  }
  // Back without a restart: the same daemon unwraps it once the backend has reconnected.
  let opened: string | undefined;
  for (const until = Date.now() + 10_000; opened === undefined && Date.now() < until; await sleep(25)) {
    opened = await second.client.decrypt({ ciphertext: unseen.ciphertext }).then((r) => text(r.plaintext), () => undefined);
  }
  t.is(opened, 'never opened by the second daemon');
  t.is((await second.admin.rotateKey({ keyId: 'records' })).key?.primaryVersion, 2);
});

test.serial('crypto-shredding (policy §3.8): after C_DestroyObject of a KEK version, a fresh daemon process cannot decrypt what it protected', async (t) => {
  const dir = makeTempDir('keyward-pkcs11-shred-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const live = await startTestDaemon({ dir, overrides: overrides('shred') });
  const s1 = await live.client.encrypt({ keyId: 'shred-me', plaintext: Buffer.from('under v1') });
  await live.admin.rotateKey({ keyId: 'shred-me' });
  const s2 = await live.client.encrypt({ keyId: 'shred-me', plaintext: Buffer.from('under v2') });
  const kept = await live.client.encrypt({ keyId: 'records', plaintext: Buffer.from('another key') });
  t.deepEqual([s1.keyVersion, s2.keyVersion], [1, 2]);
  await live.stop();

  const destroy = async (label: string) => {
    const raw = await openRawSession(token);
    try {
      const handles = raw.find(label);
      t.is(handles.length, 1, `one object labelled ${label}`);
      raw.api.C_DestroyObject(raw.session, handles[0]!);
      t.deepEqual(raw.find(label), [], `${label} is gone`);
    } finally {
      await raw.close();
    }
  };

  // 1. Destroy version 1 only. The fresh process's backend no longer lists v1, so the
  //    registry answers NOT_FOUND ("no version 1") before any cryptography; v2 and other
  //    keys still decrypt.
  await destroy('shred/shred-me/v1');
  const afterV1 = await serveInChild(dir, overrides('shred'));
  try {
    await rejectsWithCode(t, afterV1.client.decrypt({ ciphertext: s1.ciphertext }), status.NOT_FOUND, 'key "shred-me" has no version 1');
    t.is(text((await afterV1.client.decrypt({ ciphertext: s2.ciphertext })).plaintext), 'under v2');
    t.is(text((await afterV1.client.decrypt({ ciphertext: kept.ciphertext })).plaintext), 'another key');
  } finally {
    await afterV1.stop();
  }

  // 2. Destroy the last version too. With create_missing_keys: false the daemon refuses
  //    to start, naming the key and the labels it looked for.
  await destroy('shred/shred-me/v2');
  const refused = await t.throwsAsync(startTestDaemon({ dir, overrides: overrides('shred', false) }));
  t.true(isKeywardError(refused, 'failed-precondition'));
  t.regex(refused!.message, /key "shred-me" does not exist on token "daemon" \(looked for objects labelled "shred\/shred-me\/v<N>"/);

  // 3. With create_missing_keys: true a fresh process makes a new, unrelated v1. The old
  //    v1 ciphertext names version 1, which exists again, so it reaches the HSM and fails
  //    GCM authentication under the new KEK: INVALID_ARGUMENT "decryption failed". The v2
  //    ciphertext is NOT_FOUND. Nothing that was shredded decrypts.
  const recreated = await serveInChild(dir, overrides('shred', true));
  try {
    await rejectsWithCode(t, recreated.client.decrypt({ ciphertext: s1.ciphertext }), status.INVALID_ARGUMENT, 'decryption failed');
    await rejectsWithCode(t, recreated.client.decrypt({ ciphertext: s2.ciphertext }), status.NOT_FOUND, 'key "shred-me" has no version 2');
    t.is(text((await recreated.client.decrypt({ ciphertext: kept.ciphertext })).plaintext), 'another key');
  } finally {
    await recreated.stop();
  }
});
