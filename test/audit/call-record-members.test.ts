// The call record's text, written directly (src/audit/call-record-members.ts), is the
// exact JSON the observer's record object used to give through serializeAuditEvent: the
// same fields, in the same order, escaped the same way — over a matrix of outcomes,
// denial reasons with quotes, unicode and control characters, and callers with every
// field present or absent; unusual values take the serializer's way, bytes included.
import test from 'ava';
import { serializeAuditEvent } from '../../src/audit/audit-record.js';
import { callerEntries, callerRecordMembers } from '../../src/audit/caller-attributes.js';
import { CallRecordFormat } from '../../src/audit/call-record-members.js';
import type { CallOutcome } from '../../src/core/call-observer.js';
import type { CallerIdentity } from '../../src/core/caller.js';
import { isKeywardError } from '../../src/core/keyward-error.js';

/** The record object exactly as AuditLogObserver built it before it wrote the text itself. */
function recordObject(plane: string, method: string, outcome: CallOutcome, durationUs: number): Record<string, unknown> {
  return {
    event: 'key.operation',
    plane,
    operation: method,
    outcome: outcome.code === 0 ? 'ok' : outcome.codeName,
    ...(outcome.keyId !== undefined ? { key_id: outcome.keyId } : {}),
    ...(outcome.keyVersion !== undefined ? { key_version: outcome.keyVersion } : {}),
    ...(outcome.backend !== undefined ? { backend: outcome.backend } : {}),
    ...(outcome.cacheHit !== undefined ? { cache_hit: outcome.cacheHit } : {}),
    ...(outcome.batchSize !== undefined ? { batch_size: outcome.batchSize } : {}),
    ...(outcome.dekGenerated ? { dek_generated: true } : {}),
    ...(outcome.deniedItems ? { denied_items: outcome.deniedItems } : {}),
    ...(outcome.caller ? Object.fromEntries(callerEntries(outcome.caller, 'record')) : {}),
    ...(outcome.denialReason !== undefined ? { reason: outcome.denialReason } : {}),
    duration_us: durationUs,
  };
}

const fullCaller: CallerIdentity = {
  peer: { pid: 4242, uid: 1000, gid: 1001 },
  exe: '/usr/local/bin/pay "api"\\é',
  exeVerified: true,
  containerId: '0123abcd',
  podUid: '6f1c2f3e-aaaa-bbbb-cccc-0123456789ab',
  namespace: 'payments',
  serviceAccount: 'system:serviceaccount:payments:api',
  claims: { sub: 'x', aud: ['keyward'] },
  subject: 'system:serviceaccount:payments:api',
};
const bareCaller: CallerIdentity = { peer: { pid: 1, uid: 0, gid: 0 }, subject: 'uid:0' };
const podCaller: CallerIdentity = { peer: { pid: 77, uid: 65534, gid: 65534 }, containerId: 'c0ffee', podUid: 'p0d', subject: 'uid:65534@pod:p0d' };

const reasons: (string | undefined)[] = [
  undefined,
  '',
  'no rule grants decrypt on key "payments-db" to uid:4246',
  'bearer token refused: "exp" claim timestamp check failed \\ back\\slash',
  'control \u0000\u0001\u0007\b\t\n\u000b\f\r\u001b\u001f and DEL \u007f',
  'unicode: é ü ß € 漢字 🔑 \u2028\u2029 lone \ud800 surrogate \udfff',
  'the process that connected (pid 31337) is gone …',
];

function outcomes(): CallOutcome[] {
  const list: CallOutcome[] = [];
  const callers = [undefined, fullCaller, bareCaller, podCaller];
  const codes: [number, string | undefined][] = [
    [0, 'OK'],
    [7, 'PERMISSION_DENIED'],
    [16, 'UNAUTHENTICATED'],
    [3, 'INVALID_ARGUMENT'],
    [99, undefined],
  ];
  let n = 0;
  for (const [code, codeName] of codes) {
    for (const caller of callers) {
      for (const denialReason of reasons) {
        n += 1;
        const facts: Record<string, unknown> = {};
        if (n % 2 === 0) Object.assign(facts, { keyId: n % 4 === 0 ? 'payments-db' : 'k"ey\n{"seq":99}', keyVersion: n % 3 });
        if (n % 3 === 0) Object.assign(facts, { backend: 'local', cacheHit: n % 2 === 0 });
        if (n % 5 === 0) Object.assign(facts, { batchSize: n, deniedItems: n % 10 === 0 ? 0 : 2 });
        if (n % 7 === 0) facts['dekGenerated'] = true;
        if (n % 11 === 0) facts['dekGenerated'] = false;
        if (n % 13 === 0) Object.assign(facts, { keyId: undefined, backend: undefined }); // noted as undefined: absent
        list.push({ code, codeName: codeName as string, ...facts, ...(caller ? { caller } : {}), ...(denialReason !== undefined ? { denialReason } : {}) });
      }
    }
  }
  return list;
}

test('the text is what serializeAuditEvent wrote for the record object, for every outcome', (t) => {
  const all = outcomes();
  t.true(all.length >= 100, `${all.length} outcomes`);
  for (const plane of ['data', 'admin'] as const) {
    const format = new CallRecordFormat(plane);
    for (const method of ['Encrypt', 'DecryptBatch', 'Rotate"Key']) {
      for (const [i, outcome] of all.entries()) {
        const durationUs = [0, 17, 1_234_567][i % 3]!;
        const expected = serializeAuditEvent(recordObject(plane, method, outcome, durationUs));
        const text = `{${format.members(method, outcome, durationUs)}}`;
        if (text !== expected) t.fail(`outcome ${i} (${method}, ${plane}):\n  got      ${text}\n  expected ${expected}`);
      }
    }
  }
  t.pass();
});

test('a typical Encrypt record, field by field', (t) => {
  const format = new CallRecordFormat('data');
  const text = format.members('Encrypt', { code: 0, codeName: 'OK', keyId: 'alpha', keyVersion: 3, backend: 'local', cacheHit: true, caller: bareCaller }, 42);
  t.is(
    text,
    '"event":"key.operation","plane":"data","operation":"Encrypt","outcome":"ok","key_id":"alpha","key_version":3,"backend":"local","cache_hit":true,' +
      '"actor":"uid:0","peer_pid":1,"peer_uid":0,"peer_gid":0,"duration_us":42',
  );
  const denied = format.members('Decrypt', { code: 7, codeName: 'PERMISSION_DENIED', keyId: 'alpha', caller: bareCaller, denialReason: 'no rule "x"\n' }, 5);
  t.is(
    denied,
    '"event":"key.operation","plane":"data","operation":"Decrypt","outcome":"PERMISSION_DENIED","key_id":"alpha",' +
      '"actor":"uid:0","peer_pid":1,"peer_uid":0,"peer_gid":0,"reason":"no rule \\"x\\"\\n","duration_us":5',
  );
});

test('values of unexpected types take the serializer: same text, and bytes are still refused', (t) => {
  const format = new CallRecordFormat('data');
  const odd: CallOutcome[] = [
    { code: 0, codeName: 'OK', keyVersion: Number.NaN, batchSize: Number.POSITIVE_INFINITY },
    { code: 0, codeName: 'OK', keyVersion: 5n as unknown as number },
    { code: 2, codeName: 'UNKNOWN', keyId: 42 as unknown as string, cacheHit: 'yes' as unknown as boolean },
    { code: 0, codeName: 'OK', deniedItems: '3' as unknown as number },
    { code: 0, codeName: 'OK', caller: { ...bareCaller, peer: { pid: 10n as unknown as number, uid: 0, gid: 0 } } },
    { code: 0, codeName: 'OK', caller: { ...bareCaller, exe: Number.NaN as unknown as string } },
  ];
  for (const outcome of odd) t.is(`{${format.members('Encrypt', outcome, 1)}}`, serializeAuditEvent(recordObject('data', 'Encrypt', outcome, 1)));
  for (const outcome of [{ code: 0, codeName: 'OK', keyId: Buffer.from('secret') as unknown as string }, { code: 7, codeName: 'X', denialReason: new Uint8Array(2) as unknown as string }]) {
    t.true(isKeywardError(t.throws(() => format.members('Encrypt', outcome, 1)), 'invalid-argument'));
  }
});

test("the caller's record members are made once per identity and match callerEntries", (t) => {
  const first = callerRecordMembers(fullCaller);
  t.is(first, JSON.stringify(Object.fromEntries(callerEntries(fullCaller, 'record'))).slice(1, -1));
  t.is(callerRecordMembers(fullCaller), first, 'the same text for the same identity');
  t.is(callerRecordMembers({ ...fullCaller }), first, 'an equal identity gives equal text');
  t.is(callerRecordMembers({ peer: { pid: 1n as unknown as number, uid: 0, gid: 0 }, subject: 'uid:0' }), undefined, 'a value that is not a string or number');
  // callerEntries itself is unchanged: span names for spans, record names for records.
  t.deepEqual(callerEntries(bareCaller, 'span'), [
    ['enduser.id', 'uid:0'],
    ['keyward.peer.pid', 1],
    ['keyward.peer.uid', 0],
    ['keyward.peer.gid', 0],
  ]);
});
