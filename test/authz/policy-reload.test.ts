// SIGHUP reloads the authorization policy of a running `keyward serve`: new grants and
// revocations apply to the next call on the same connections, a call in flight is not
// disturbed, and an invalid new policy keeps the old one and says why in the log.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyServiceClient } from '../../src/client/keyward-client.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startServing, waitFor, writeConfig } from '../support/keyward-process.js';
import { makeTempDir } from '../support/test-daemon.js';

const rule = (keys: string[]) => ({ rules: [{ name: 'self', match: { uid: 'self' }, keys, roles: ['key-user-encrypt'] }] });

test('SIGHUP: grants and revocations apply on the open connection; an invalid policy keeps the old one', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const auditPath = join(dir, 'audit.jsonl');
  const base = { audit: { log: { path: auditPath, fsync: 'every-record' } } };
  const configFile = writeConfig(dir, { ...base, authorization: rule(['alpha']) });
  const running = await startServing(configFile);
  t.teardown(() => running.child.kill('SIGKILL'));
  const client = createKeyServiceClient(join(dir, 'keyward.sock'));
  t.teardown(() => client.close());
  const encrypt = (keyId: string) => client.encrypt({ keyId, plaintext: Buffer.from('reload') });
  const reloads = (event: string) => running.output().split('\n').filter((l) => l.includes(`"event":"${event}"`)).length;

  await encrypt('alpha');
  await rejectsWithCode(t, encrypt('beta'), status.PERMISSION_DENIED, 'permission denied');

  // Grant beta; SIGHUP while a batch is in flight on the same channel.
  writeConfig(dir, { ...base, authorization: rule(['alpha', 'beta']) });
  const batch = client.encryptBatch({ items: Array.from({ length: 1000 }, () => ({ keyId: 'alpha', plaintext: Buffer.alloc(4096, 1) })) });
  running.child.kill('SIGHUP');
  await waitFor(() => reloads('policy.reloaded') === 1, 'the reload');
  t.true((await batch).results.every((r) => r.result.case === 'response'));
  await encrypt('beta');

  // An invalid policy: the daemon says why and keeps granting beta.
  writeFileSync(configFile, readFileSync(configFile, 'utf8').replace('key-user-encrypt', 'key-user-everything'));
  running.child.kill('SIGHUP');
  await waitFor(() => reloads('policy.reload_failed') === 1, 'the refused reload');
  t.regex(running.output(), /"event":"policy\.reload_failed".*unknown role \\"key-user-everything\\"/);
  await encrypt('beta');
  // Broken YAML is refused the same way.
  writeFileSync(configFile, 'authorization: [unclosed');
  running.child.kill('SIGHUP');
  await waitFor(() => reloads('policy.reload_failed') === 2, 'the second refused reload');
  await encrypt('beta');

  // Revoke beta: the same connection is denied on its next call.
  writeConfig(dir, { ...base, authorization: rule(['alpha']) });
  running.child.kill('SIGHUP');
  await waitFor(() => reloads('policy.reloaded') === 2, 'the second reload');
  await rejectsWithCode(t, encrypt('beta'), status.PERMISSION_DENIED, 'permission denied');
  await encrypt('alpha');

  running.child.kill('SIGTERM');
  t.is(await running.exited, 0);
  const events = readFileSync(auditPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(events.filter((e) => e['event'] === 'policy.reloaded').length, 2);
  t.like(events.find((e) => e['event'] === 'policy.reload_failed'), { level: 'error' });
});
