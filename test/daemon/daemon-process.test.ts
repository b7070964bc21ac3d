// The daemon as an operator runs it: `keyward serve` in its own process. Socket modes,
// stale and live sockets, SIGTERM with a call in flight, and a bad configuration.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createKeyServiceClient } from '../../src/client/keyward-client.js';
import { MAIN, startProcess, startServing, waitFor, writeConfig } from '../support/keyward-process.js';
import { makeTempDir } from '../support/test-daemon.js';

test('sockets are created 0660 (data) and 0600 (admin); SIGTERM with a call in flight finishes it, removes the sockets and exits 0', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const running = await startServing(writeConfig(dir));
  t.teardown(() => running.child.kill('SIGKILL'));
  const dataSocket = join(dir, 'keyward.sock');
  const adminSocket = join(dir, 'admin.sock');
  t.is(statSync(dataSocket).mode & 0o777, 0o660);
  t.is(statSync(adminSocket).mode & 0o777, 0o600);
  t.true(statSync(dataSocket).isSocket());

  const client = createKeyServiceClient(dataSocket);
  t.teardown(() => client.close());
  await client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('warm') });
  const items = Array.from({ length: 1000 }, (_, i) => ({ keyId: 'alpha', plaintext: Buffer.alloc(8 * 1024, i % 251) }));
  const inFlight = client.encryptBatch({ items });
  await new Promise((r) => setTimeout(r, 15));
  running.child.kill('SIGTERM');
  const batch = await inFlight;
  t.is(batch.results.length, 1000);
  t.true(batch.results.every((r) => r.result.case === 'response'));
  t.is(await running.exited, 0);
  t.false(existsSync(dataSocket), 'data socket removed');
  t.false(existsSync(adminSocket), 'admin socket removed');
  t.regex(running.output(), /"msg":"stopped"/);
});

test('a stale socket file left by a dead process is replaced', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataSocket = join(dir, 'keyward.sock');
  // bind(2) without unlink: a socket file with nobody behind it, as after SIGKILL.
  const py = spawnSync('python3', ['-c', `import socket; s = socket.socket(socket.AF_UNIX); s.bind(${JSON.stringify(dataSocket)})`]);
  t.is(py.status, 0, py.stderr.toString());
  t.true(statSync(dataSocket).isSocket());
  const running = await startServing(writeConfig(dir));
  t.teardown(() => running.child.kill('SIGKILL'));
  const client = createKeyServiceClient(dataSocket);
  t.teardown(() => client.close());
  t.is((await client.encrypt({ keyId: 'beta', plaintext: Buffer.from('x') })).keyId, 'beta');
});

test('a second daemon on the socket of a live one is refused with a clear error, and the first keeps serving', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = writeConfig(dir);
  const first = await startServing(config);
  t.teardown(() => first.child.kill('SIGKILL'));
  const second = startProcess(config);
  t.not(await second.exited, 0);
  t.regex(second.output(), /holds the lock of .*keyward\.sock; is keyward already running\?/);
  const client = createKeyServiceClient(join(dir, 'keyward.sock'));
  t.teardown(() => client.close());
  t.is((await client.encrypt({ keyId: 'gamma', plaintext: Buffer.from('still here') })).keyId, 'gamma');
});

test('a regular file where the socket should be is not replaced', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const dataSocket = join(dir, 'keyward.sock');
  mkdirSync(dir, { recursive: true });
  writeFileSync(dataSocket, 'precious');
  const running = startProcess(writeConfig(dir));
  t.not(await running.exited, 0);
  t.regex(running.output(), /keyward\.sock exists and is not a socket; refusing to replace it/);
  t.true(existsSync(dataSocket));
});

test('an invalid configuration stops the start with every problem named by path', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const config = writeConfig(dir, {
    keys: [
      { id: 'ok', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
      { id: 'bad', purpose: 'encrypt', algorithm: 'des', backend: 'local' },
    ],
    colour: 'blue',
  });
  const running = startProcess(config);
  t.is(await running.exited, 1);
  t.regex(running.output(), /keys\[1\]\.algorithm: expected one of/);
  t.regex(running.output(), /unknown field "colour"/);
  t.false(existsSync(join(dir, 'keyward.sock')));
});

test('the caller is identified by SO_PEERCRED: a client process under another uid and gid is recorded as such', async (t) => {
  const dir = makeTempDir();
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const { chmodSync, readFileSync } = await import('node:fs');
  chmodSync(dir, 0o755);
  const auditPath = join(dir, 'audit.jsonl');
  const running = await startServing(
    writeConfig(dir, {
      server: { data_socket: { path: join(dir, 'keyward.sock'), mode: '0666' }, admin_socket: { path: join(dir, 'admin.sock') }, shutdown_grace_ms: 2000 },
      audit: { log: { path: auditPath, fsync: 'every-record' } },
      authorization: { rules: [{ name: 'app-4242', match: { uid: 4242, gid: 4343 }, keys: ['alpha'], roles: ['key-user-encrypt'] }] },
    }),
  );
  t.teardown(() => running.child.kill('SIGKILL'));
  // The CLI as an ordinary client process, dropped to uid 4242 / gid 4343.
  const client = spawnSync(
    'setpriv',
    ['--reuid', '4242', '--regid', '4343', '--clear-groups', process.execPath, MAIN, 'encrypt', '--key-id', 'alpha', '--socket', join(dir, 'keyward.sock'), '--base64'],
    { input: 'from another user' },
  );
  t.is(client.status, 0, client.stderr.toString());
  running.child.kill('SIGTERM');
  t.is(await running.exited, 0);
  const records = readFileSync(auditPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const call = records.find((r) => r['event'] === 'key.operation' && r['operation'] === 'Encrypt');
  t.like(call, { peer_uid: 4242, peer_gid: 4343, outcome: 'ok', key_id: 'alpha', actor: 'uid:4242', exe: process.execPath });
  t.not(call?.['peer_pid'], process.pid);
  t.not(call?.['peer_pid'], running.child.pid);
});
