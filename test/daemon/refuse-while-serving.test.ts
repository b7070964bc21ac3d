// refuseWhileServing: nobody on either socket → go on; a live socket → refused; a path
// that cannot be probed → refused too, naming the errno (it cannot tell).
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { refuseWhileServing } from '../../src/daemon/refuse-while-serving.js';
import { makeTempDir } from '../support/test-daemon.js';

const sockets = (dir: string) => ({ data_socket: { path: join(dir, 'keyward.sock') }, admin_socket: { path: join(dir, 'admin.sock') } }) as never;

test('no daemon: goes on; a live admin socket: already-exists naming it', async (t) => {
  const dir = makeTempDir('keyward-refuse-');
  await t.notThrowsAsync(refuseWhileServing(sockets(dir), 'k.yaml', 'recovering keys offline'));
  const server = createServer();
  await new Promise<void>((r) => server.listen(join(dir, 'admin.sock'), r));
  t.teardown(() => server.close());
  const err = await t.throwsAsync(refuseWhileServing(sockets(dir), 'k.yaml', 'recovering keys offline'));
  t.true(isKeywardError(err, 'already-exists'));
  t.is(err!.message, `the daemon of k.yaml is running (${join(dir, 'admin.sock')} accepts connections): stop it before recovering keys offline`);
});

test('a socket path that cannot be probed: failed-precondition, it cannot tell', async (t) => {
  const dir = makeTempDir('keyward-refuse-');
  writeFileSync(join(dir, 'not-a-dir'), '');
  const err = await t.throwsAsync(refuseWhileServing(sockets(join(dir, 'not-a-dir')), 'k.yaml', 'recovering keys offline'));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.is(err!.message, `cannot tell whether a daemon listens on ${join(dir, 'not-a-dir', 'keyward.sock')} (ENOTDIR); stop it, or run as a user who may connect`);
});
