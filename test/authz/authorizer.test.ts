// The Authorizer on its own, with fake /proc and pidfd sources: which re-check it uses,
// what a peer in an invisible pid namespace (pid 0) gets, that tokens are read on the
// data plane only, and that a policy swap reaches open connections.
import test from 'ava';
import { AccessPolicy } from '../../src/authz/access-policy.js';
import { Authorizer, type ProcessFactsSource, type TokenVerifier } from '../../src/authz/authorizer.js';
import { KeywardError } from '../../src/core/keyward-error.js';

const PEER = { pid: 4242, uid: 1000, gid: 1000 };
const allowUid1000 = AccessPolicy.compile({ roles: {}, rules: [{ name: 'u', match: { uid: [1000] }, keys: ['*'], roles: [], operations: ['encrypt'] }] });
const denyAll = AccessPolicy.compile({ roles: {}, rules: [] });

function fakeProc(): ProcessFactsSource & { startTimeReads: number; start: bigint } {
  const fake = {
    startTimeReads: 0,
    start: 100n,
    inspect: (pid: number) => (pid === PEER.pid ? { startTime: fake.start, exe: '/usr/bin/app', exeInDaemonNamespace: true } : undefined),
    startTime: (pid: number) => {
      fake.startTimeReads++;
      return pid === PEER.pid ? fake.start : undefined;
    },
  };
  return fake;
}

const codeOf = (fn: () => unknown) => {
  try {
    fn();
  } catch (err) {
    return err instanceof KeywardError ? err.code : 'not a KeywardError';
  }
  return 'none';
};

test('with a pidfd the re-check asks it and never reads /proc; exited → permission-denied', async (t) => {
  const proc = fakeProc();
  let exited = false;
  const failures: string[] = [];
  const authorizer = new Authorizer({ policy: allowUid1000, processes: proc, onFailure: (a) => failures.push(a.reason) });
  const conn = authorizer.connect(PEER, 'data', { exited: () => exited });
  const caller = await conn.callerFor(undefined);
  const readsAfterConnect = proc.startTimeReads;
  t.is(codeOf(() => conn.recheck(caller)), 'none');
  proc.start = 999n; // a start time change means nothing to a pidfd
  t.is(codeOf(() => conn.recheck(caller)), 'none');
  t.is(proc.startTimeReads, readsAfterConnect);
  exited = true;
  t.is(codeOf(() => conn.recheck(caller)), 'permission-denied');
  t.regex(failures[0]!, /pid 4242\) is gone/);
});

test('without a pidfd (or recheckBy start-time) the re-check compares the start time', async (t) => {
  for (const [process, recheckBy] of [[undefined, undefined], [{ exited: () => false }, 'start-time']] as const) {
    const proc = fakeProc();
    const authorizer = new Authorizer({ policy: allowUid1000, processes: proc, onFailure: () => undefined, ...(recheckBy ? { recheckBy } : {}) });
    const conn = authorizer.connect(PEER, 'data', process);
    const caller = await conn.callerFor(undefined);
    t.is(codeOf(() => conn.recheck(caller)), 'none');
    proc.start = 101n;
    t.is(codeOf(() => conn.recheck(caller)), 'permission-denied');
  }
});

test('a process already gone at accept, or exited by the time /proc was read, is refused: unauthenticated', (t) => {
  const authorizer = new Authorizer({ policy: allowUid1000, processes: fakeProc(), onFailure: () => undefined });
  t.is(codeOf(() => authorizer.connect({ ...PEER, pid: 7 }, 'data')), 'unauthenticated');
  t.is(codeOf(() => authorizer.connect(PEER, 'data', { exited: () => true })), 'unauthenticated');
});

test('pid 0 (a pid namespace keyward cannot see): uid and gid only, no /proc read, nothing to re-check', async (t) => {
  const proc = fakeProc();
  proc.inspect = () => {
    throw new Error('must not read /proc for pid 0');
  };
  const authorizer = new Authorizer({ policy: allowUid1000, processes: proc, onFailure: () => undefined });
  const conn = authorizer.connect({ pid: 0, uid: 1000, gid: 1000 }, 'data');
  const caller = await conn.callerFor(undefined);
  t.is(caller.identity.exe, undefined);
  t.is(caller.identity.subject, 'uid:1000');
  t.is(codeOf(() => conn.recheck(caller)), 'none');
  t.true(caller.permits('encrypt', 'k'));
});

test('bearer tokens are read on the data plane only; the admin plane ignores the metadata', async (t) => {
  let verified = 0;
  const verifier: TokenVerifier = {
    verify: async () => {
      verified++;
      return { subject: 'system:serviceaccount:ns:sa', namespace: 'ns', serviceAccount: 'sa', claims: {} };
    },
  };
  const authorizer = new Authorizer({ policy: allowUid1000, processes: fakeProc(), onFailure: () => undefined, tokens: { verifier, required: true } });
  const admin = await authorizer.connect(PEER, 'admin').callerFor('Bearer x');
  t.is(admin.identity.subject, 'uid:1000');
  t.is(verified, 0);
  const data = await authorizer.connect(PEER, 'data').callerFor('Bearer x');
  t.is(data.identity.subject, 'system:serviceaccount:ns:sa');
  t.is(verified, 1);
});

test('a replaced policy reaches an open connection on its next call', async (t) => {
  const authorizer = new Authorizer({ policy: allowUid1000, processes: fakeProc(), onFailure: () => undefined });
  const conn = authorizer.connect(PEER, 'data', { exited: () => false });
  t.true((await conn.callerFor(undefined)).permits('encrypt', 'k'));
  authorizer.replace(denyAll, undefined);
  t.false((await conn.callerFor(undefined)).permits('encrypt', 'k'));
  authorizer.replace(allowUid1000, undefined);
  t.true((await conn.callerFor(undefined)).permits('encrypt', 'k'));
});

test('without a pidfd, a pid whose process runs under another uid than SO_PEERCRED recorded is refused (pid reused before accept)', (t) => {
  const proc = fakeProc();
  const inspect = proc.inspect;
  proc.inspect = (pid: number) => {
    const facts = inspect(pid);
    return facts && { ...facts, uid: 0 };
  };
  const authorizer = new Authorizer({ policy: allowUid1000, processes: proc, onFailure: () => undefined });
  t.is(codeOf(() => authorizer.connect(PEER, 'data')), 'unauthenticated');
  // With a pidfd the process is the connector itself: a later setuid does not matter.
  t.is(codeOf(() => authorizer.connect(PEER, 'data', { exited: () => false })), 'none');
});
