// The instance lock: one holder per data socket path, another path is another lock, and
// a lock given up — or whose holder process exited — can be taken again.
import test from 'ava';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { join } from 'node:path';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { InstanceLock, instanceLockName } from '../../src/daemon/instance-lock.js';
import { makeTempDir } from '../support/test-daemon.js';

test('a second holder of the same path is refused with already-exists until the first gives it up', async (t) => {
  const path = join(makeTempDir('keyward-lock-'), 'keyward.sock');
  const first = await InstanceLock.acquire(path);
  const err = await t.throwsAsync(InstanceLock.acquire(path));
  t.true(isKeywardError(err, 'already-exists'));
  t.regex(err!.message, /holds the lock of .*keyward\.sock; is keyward already running\?$/);
  const other = await InstanceLock.acquire(join(makeTempDir('keyward-lock-'), 'keyward.sock'));
  await other.release();
  await first.release();
  const again = await InstanceLock.acquire(path);
  await again.release();
});

test('the kernel gives the lock up when its holder exits', async (t) => {
  const path = join(makeTempDir('keyward-lock-'), 'keyward.sock');
  const holder = spawn(process.execPath, ['-e', `require('node:net').createServer().listen(${JSON.stringify(instanceLockName(path))}, () => console.log('held'))`], { stdio: ['ignore', 'pipe', 'inherit'] });
  await once(holder.stdout!, 'data');
  t.true(isKeywardError(await t.throwsAsync(InstanceLock.acquire(path)), 'already-exists'));
  holder.kill('SIGKILL');
  await once(holder, 'exit');
  const lock = await InstanceLock.acquire(path);
  await lock.release();
});
