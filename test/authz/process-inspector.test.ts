// The process inspector reads the start time, executable and container of a process
// from a proc root: a fixture one built in a temp dir (odd comm names, missing files,
// rewritten stat) and the real /proc (this process, an exited child, pid 1).
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import test from 'ava';
import { ProcessInspector } from '../../src/authz/process-inspector.js';
import { KeywardError } from '../../src/core/keyward-error.js';

const root = mkdtempSync(join(tmpdir(), 'keyward-proc-'));
test.after.always(() => rmSync(root, { recursive: true, force: true }));
const fixtureProc = new ProcessInspector(root);

const CONTAINER_ID = '2397d068a8d1552a4c3f9147ba9c94e086bfd66fb2acb5bbaf47197105127d5f';
const POD_UID = '1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d';
const CGROUP = `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${POD_UID.replaceAll('-', '_')}.slice/cri-containerd-${CONTAINER_ID}.scope\n`;

/** A /proc/<pid>/stat line as Linux 6.x writes it (52 fields), start time in field 22. */
function statLine(pid: number, comm: string, startTime: bigint): string {
  const fields3to21 = 'S 1 4242 4242 0 -1 4194560 1520 0 12 0 31 7 0 0 20 0 4 0';
  const fields23to52 = '1162739712 11843 18446744073709551615 94553600000000 94553628000000 140727000000000 0 0 0 0 16781312 134234626 0 0 0 17 3 0 0 0 0 0 94553630000000 94553631000000 94553650000000 140727000010000 140727000010100 140727000010100 140727000012000 0';
  return `${pid} (${comm}) ${fields3to21} ${startTime} ${fields23to52}\n`;
}

interface FixtureProcess {
  readonly comm?: string;
  readonly startTime?: bigint;
  /** Raw stat content instead of a generated line; null for no stat file. */
  readonly stat?: string | null;
  readonly exe?: string;
  readonly cgroup?: string;
}

function writeProcess(pid: number, p: FixtureProcess): void {
  const dir = join(root, String(pid));
  mkdirSync(dir, { recursive: true });
  const stat = p.stat === undefined ? statLine(pid, p.comm ?? 'worker', p.startTime ?? 1n) : p.stat;
  if (stat !== null) writeFileSync(join(dir, 'stat'), stat);
  if (p.exe !== undefined) symlinkSync(p.exe, join(dir, 'exe'));
  if (p.cgroup !== undefined) writeFileSync(join(dir, 'cgroup'), p.cgroup);
}

test('a fixture process: start time, exe and container identity', (t) => {
  writeProcess(100, { startTime: 882_320n, exe: '/usr/local/bin/payments-api', cgroup: CGROUP });
  t.deepEqual(fixtureProc.inspect(100), { startTime: 882_320n, exe: '/usr/local/bin/payments-api', exeInDaemonNamespace: false, containerId: CONTAINER_ID, podUid: POD_UID });
  t.is(fixtureProc.startTime(100), 882_320n);
});

test('a comm with spaces, parentheses and numbers does not shift the fields', (t) => {
  const comms = ['a b', 'x) S 1 2 3', ') )', '((', 'tricky) 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 9 (', ')', '', 'kworker/0:1-events'];
  comms.forEach((comm, i) => writeProcess(200 + i, { comm, startTime: 1000n + BigInt(i), cgroup: '0::/init.scope\n' }));
  t.deepEqual(
    comms.map((_, i) => fixtureProc.startTime(200 + i)),
    comms.map((_, i) => 1000n + BigInt(i)),
  );
  t.deepEqual(fixtureProc.inspect(201), { startTime: 1001n, exeInDaemonNamespace: false });
});

test('start times beyond 2^53 keep every digit', (t) => {
  writeProcess(300, { startTime: 9_007_199_254_740_993n });
  t.is(fixtureProc.startTime(300), 9_007_199_254_740_993n);
});

test('a pid with no directory is gone: undefined', (t) => {
  t.is(fixtureProc.inspect(999_999), undefined);
  t.is(fixtureProc.startTime(999_999), undefined);
});

test('startTime reflects a rewritten stat file (the pid was reused)', (t) => {
  writeProcess(400, { startTime: 5_000n });
  t.is(fixtureProc.startTime(400), 5_000n);
  writeFileSync(join(root, '400', 'stat'), statLine(400, 'new process', 7_000n));
  t.is(fixtureProc.startTime(400), 7_000n);
  t.is(fixtureProc.inspect(400)?.startTime, 7_000n);
});

test('inspect gives undefined when stat is missing, even with exe and cgroup present', (t) => {
  writeProcess(500, { stat: null, exe: '/usr/bin/true', cgroup: CGROUP });
  t.is(fixtureProc.inspect(500), undefined);
  t.is(fixtureProc.startTime(500), undefined);
});

test('an unreadable exe or cgroup is left out, the rest is still reported', (t) => {
  writeProcess(600, { startTime: 42n, cgroup: CGROUP });
  t.deepEqual(fixtureProc.inspect(600), { startTime: 42n, exeInDaemonNamespace: false, containerId: CONTAINER_ID, podUid: POD_UID });
  writeProcess(601, { startTime: 43n, exe: '/usr/sbin/sshd' });
  t.deepEqual(fixtureProc.inspect(601), { startTime: 43n, exe: '/usr/sbin/sshd', exeInDaemonNamespace: false });
});

test('a malformed stat file gives undefined, not a wrong start time', (t) => {
  const malformed = ['', '123 comm S 1 2 3', statLine(700, 'x', 5n).replace(') S', ' S'), '700 (x) S 1 2 3 4 5\n', statLine(700, 'x', 5n).replace(' 5 1162739712', ' 5x 1162739712'), statLine(700, 'x', 5n).replace(' 5 1162739712', ' -5 1162739712')];
  malformed.forEach((stat, i) => writeProcess(700 + i, { stat }));
  t.deepEqual(
    malformed.map((_, i) => fixtureProc.startTime(700 + i)),
    malformed.map(() => undefined),
  );
});

test('an invalid pid is refused with invalid-argument', (t) => {
  const real = new ProcessInspector();
  for (const pid of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53]) {
    for (const call of [() => real.inspect(pid), () => real.startTime(pid), () => fixtureProc.inspect(pid)]) {
      const err = t.throws(call, { instanceOf: KeywardError }, `pid ${pid}`);
      t.is(err?.code, 'invalid-argument', `pid ${pid}`);
    }
  }
});

test('a programming error is not mistaken for a gone process: it is rethrown', (t) => {
  // A NUL in the path makes node throw ERR_INVALID_ARG_VALUE, which has no errno.
  const broken = new ProcessInspector(`${root}\0`);
  t.throws(() => broken.startTime(100), { code: 'ERR_INVALID_ARG_VALUE' });
  t.throws(() => broken.inspect(100), { code: 'ERR_INVALID_ARG_VALUE' });
});

test('real /proc: this process', (t) => {
  const real = new ProcessInspector();
  const facts = real.inspect(process.pid);
  t.is(facts?.exe, realpathSync(process.execPath));
  t.is(typeof facts?.startTime, 'bigint');
  t.is(facts?.startTime, real.startTime(process.pid));
  // comm is "node" here (no spaces), so a plain split finds field 22 as well.
  t.is(facts?.startTime, BigInt(readFileSync('/proc/self/stat', 'latin1').split(' ')[21]!));
});

test('real /proc: a child while it runs, and once it has exited', async (t) => {
  const real = new ProcessInspector();
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' });
  const pid = child.pid!;
  const facts = real.inspect(pid);
  t.is(facts?.exe, realpathSync(process.execPath));
  t.true(facts!.startTime >= real.startTime(process.pid)!);
  child.kill('SIGKILL');
  await once(child, 'exit');
  t.is(real.inspect(pid), undefined);
  t.is(real.startTime(pid), undefined);

  const exited = spawnSync(process.execPath, ['-e', '']);
  t.is(exited.status, 0);
  t.is(real.inspect(exited.pid), undefined);
  t.is(real.startTime(exited.pid), undefined);
});

test('real /proc: pid 1 has exe exactly when readlink can read it (EACCES without ptrace rights)', (t) => {
  let expected: string | undefined;
  try {
    expected = readlinkSync('/proc/1/exe');
  } catch (err) {
    t.log(`readlink /proc/1/exe: ${(err as NodeJS.ErrnoException).code}`);
  }
  const facts = new ProcessInspector().inspect(1);
  t.not(facts, undefined);
  t.is(facts?.exe, expected);
});

test('exe is trusted only in the daemon\'s mount namespace; the effective uid comes from status', (t) => {
  const own = join(root, String(process.pid));
  mkdirSync(join(own, 'ns'), { recursive: true });
  symlinkSync('mnt:[4026531841]', join(own, 'ns', 'mnt'));
  for (const [pid, ns] of [[700, 'mnt:[4026531841]'], [701, 'mnt:[4026532999]']] as const) {
    writeProcess(pid, { startTime: 7n, exe: '/usr/bin/app', cgroup: '0::/init.scope\n' });
    mkdirSync(join(root, String(pid), 'ns'));
    symlinkSync(ns, join(root, String(pid), 'ns', 'mnt'));
    writeFileSync(join(root, String(pid), 'status'), 'Name:\tapp\nUid:\t1000\t1001\t1001\t1001\nGid:\t5\t5\t5\t5\n');
  }
  t.like(fixtureProc.inspect(700), { exe: '/usr/bin/app', exeInDaemonNamespace: true, uid: 1001 });
  t.like(fixtureProc.inspect(701), { exe: '/usr/bin/app', exeInDaemonNamespace: false, uid: 1001 });
  // The real /proc: this process shares its own namespace.
  t.like(new ProcessInspector().inspect(process.pid), { exeInDaemonNamespace: true, uid: process.geteuid!() });
});
