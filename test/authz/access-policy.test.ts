// The access decision itself: policies written as the configuration file would write
// them (run through parseConfig, so the schema's defaults and transforms apply),
// compiled by AccessPolicy and asked through Grants and PolicyCaller. Covers default
// deny, the built-in and custom roles, every match attribute (AND across attributes, OR
// within one), key patterns, the fixed denial error and its failure report, and the
// memoized decisions past the point where the memo is cleared.
import test from 'ava';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AccessPolicy, type Grants, type SelfIds } from '../../src/authz/access-policy.js';
import type { AuthorizationConfig } from '../../src/authz/authorization-config.js';
import { BUILTIN_ROLES } from '../../src/authz/builtin-roles.js';
import type { FailedAttempt } from '../../src/authz/failed-attempt-monitor.js';
import { PolicyCaller } from '../../src/authz/policy-caller.js';
import { DenialReason, OPERATIONS, PERMISSION_DENIED_MESSAGE, type CallerIdentity, type Operation } from '../../src/core/caller.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { KeywardError } from '../../src/core/keyward-error.js';
import { parseConfig } from '../../src/config/load-config.js';
import { testConfigObject } from '../support/test-daemon.js';

/** Only names socket and keystore paths in the config; nothing is created or started. */
const DIR = join(tmpdir(), 'keyward-access-policy-test');

/** What `self` stands for, deliberately unlike the ids this test process runs as. */
const SELF: SelfIds = { uid: 4242, gid: 4343 };

const CONTAINER_A = 'a1'.repeat(32);
const CONTAINER_B = 'b2'.repeat(32);
const POD_UID = 'c0ffee00-0000-4000-8000-00000000abcd';

/** The `authorization` section as parseConfig validates and normalizes it. */
function authorization(section: Record<string, unknown>): AuthorizationConfig {
  return parseConfig(testConfigObject(DIR, { authorization: section })).authorization;
}

function compile(section: Record<string, unknown>): AccessPolicy {
  return AccessPolicy.compile(authorization(section), SELF);
}

/** A policy of one rule granting `grant` on `keys` to whoever matches `match`. */
function oneRule(match: Record<string, unknown>, grant: { roles?: string[]; operations?: string[] } = { operations: ['encrypt'] }, keys = ['*']) {
  return compile({ rules: [{ name: 'only', match, keys, ...grant }] });
}

interface Who {
  readonly uid?: number;
  readonly gid?: number;
  readonly exe?: string;
  /** Default true when `exe` is given: the caller shares the daemon's mount namespace. */
  readonly exeVerified?: boolean;
  readonly containerId?: string;
  readonly podUid?: string;
  readonly namespace?: string;
  readonly serviceAccount?: string;
  readonly claims?: Record<string, unknown>;
}

function identity(who: Who = {}): CallerIdentity {
  const { uid = 1000, gid = 1000, ...rest } = who;
  const verified = who.exe !== undefined ? { exeVerified: who.exeVerified ?? true } : {};
  return { peer: { pid: 12345, uid, gid }, subject: `uid:${uid}`, ...rest, ...verified };
}

/** The operations the grants permit on `keyId`, in OPERATIONS order. */
function permitted(grants: Grants, keyId: string): Operation[] {
  return OPERATIONS.filter((op) => grants.permits(op, keyId));
}

/** Whether the single-rule policy applies to the identity (it grants encrypt on every key). */
function applies(policy: AccessPolicy, who: Who): boolean {
  return policy.grantsFor(identity(who)).permits('encrypt', 'any-key');
}

const KEY_IDS = ['alpha', 'payments-db', 'orders', 'x'];

test('default deny: no rules means nothing is permitted to anyone', (t) => {
  const config = authorization({});
  t.deepEqual(config.rules, []);
  const policy = AccessPolicy.compile(config, SELF);
  t.is(policy.ruleCount, 0);
  for (const who of [identity(), identity({ uid: SELF.uid, gid: SELF.gid }), identity({ uid: 0, gid: 0, namespace: 'kube-system' })]) {
    const grants = policy.grantsFor(who);
    t.deepEqual(grants.ruleNames, []);
    for (const keyId of KEY_IDS) t.deepEqual(permitted(grants, keyId), [], `uid ${who.peer.uid} on ${keyId}`);
    t.deepEqual(
      OPERATIONS.filter((op) => grants.grantsAny(op)),
      [],
    );
  }
});

test('default deny: rules that do not match the identity grant it nothing', (t) => {
  const policy = oneRule({ uid: 1000 }, { operations: [...OPERATIONS] });
  const grants = policy.grantsFor(identity({ uid: 1001 }));
  for (const keyId of KEY_IDS) t.deepEqual(permitted(grants, keyId), []);
  t.false(OPERATIONS.some((op) => grants.grantsAny(op)));
});

/** The roles of the Key Management Policy §5 and §7, written out independently of builtin-roles.ts. */
const EXPECTED_ROLES: Record<string, Operation[]> = {
  'key-user-encrypt': ['encrypt', 'datakey'],
  'key-user-decrypt': ['decrypt'],
  signer: ['sign', 'verify', 'mac', 'public_key'],
  'key-auditor': ['list', 'describe'],
  'key-admin': ['list', 'describe', 'rotate'],
  'key-escrow-officer': ['escrow', 'list', 'describe'],
};

test('the six built-in roles exist and no others', (t) => {
  t.deepEqual(Object.keys(BUILTIN_ROLES).sort(), Object.keys(EXPECTED_ROLES).sort());
});

for (const [role, expected] of Object.entries(EXPECTED_ROLES)) {
  test(`built-in role ${role} grants exactly ${expected.join(', ')}`, (t) => {
    const grants = oneRule({ uid: 1000 }, { roles: [role] }).grantsFor(identity());
    const inOrder = OPERATIONS.filter((op) => expected.includes(op));
    for (const keyId of KEY_IDS) t.deepEqual(permitted(grants, keyId), inOrder, `${role} on ${keyId}`);
    t.deepEqual(
      OPERATIONS.filter((op) => grants.grantsAny(op)),
      inOrder,
    );
    // And the table in builtin-roles.ts says the same.
    t.deepEqual([...(BUILTIN_ROLES[role] ?? [])].sort(), [...expected].sort());
  });
}

test('a custom role grants exactly its operations', (t) => {
  const policy = compile({
    roles: { rotator: ['rotate', 'describe'] },
    rules: [{ name: 'r', match: { uid: 1000 }, keys: ['*'], roles: ['rotator'] }],
  });
  t.deepEqual(permitted(policy.grantsFor(identity()), 'alpha'), ['describe', 'rotate']);
});

test('a rule may name a custom and a built-in role together', (t) => {
  const policy = compile({
    roles: { 'mac-only': ['mac'] },
    rules: [{ name: 'r', match: { uid: 1000 }, keys: ['*'], roles: ['mac-only', 'key-user-decrypt'] }],
  });
  t.deepEqual(permitted(policy.grantsFor(identity()), 'alpha'), ['decrypt', 'mac']);
});

test('operations and roles of a rule are united', (t) => {
  const grants = oneRule({ uid: 1000 }, { roles: ['key-user-decrypt', 'key-auditor'], operations: ['sign', 'decrypt'] }).grantsFor(identity());
  t.deepEqual(permitted(grants, 'alpha'), ['decrypt', 'sign', 'list', 'describe']);
});

test('operations alone grant exactly those operations', (t) => {
  const grants = oneRule({ uid: 1000 }, { operations: ['verify', 'public_key'] }).grantsFor(identity());
  t.deepEqual(permitted(grants, 'alpha'), ['verify', 'public_key']);
});

test('uid: any listed value matches', (t) => {
  const policy = oneRule({ uid: [1000, 1001] });
  t.true(applies(policy, { uid: 1000 }));
  t.true(applies(policy, { uid: 1001 }));
  t.false(applies(policy, { uid: 1002 }));
  t.false(applies(policy, { uid: 0 }));
});

test('gid: a single value matches only that gid, whatever the uid', (t) => {
  const policy = oneRule({ gid: 2000 });
  t.true(applies(policy, { uid: 1, gid: 2000 }));
  t.true(applies(policy, { uid: 2, gid: 2000 }));
  t.false(applies(policy, { uid: 1, gid: 2001 }));
});

test('all attributes of a match must hold (AND), each may match any of its values (OR)', (t) => {
  const policy = oneRule({ uid: [1000, 1001], gid: [2000, 2001] });
  t.true(applies(policy, { uid: 1000, gid: 2000 }));
  t.true(applies(policy, { uid: 1001, gid: 2001 }));
  t.true(applies(policy, { uid: 1000, gid: 2001 }));
  t.false(applies(policy, { uid: 1000, gid: 3000 }), 'uid matches, gid does not');
  t.false(applies(policy, { uid: 3000, gid: 2000 }), 'gid matches, uid does not');

  const wide = oneRule({ uid: 1000, exe: '/usr/bin/*', namespace: 'payments' });
  t.true(applies(wide, { uid: 1000, exe: '/usr/bin/app', namespace: 'payments' }));
  t.false(applies(wide, { uid: 1000, exe: '/usr/bin/app', namespace: 'orders' }));
  t.false(applies(wide, { uid: 1000, exe: '/opt/app', namespace: 'payments' }));
  t.false(applies(wide, { uid: 1001, exe: '/usr/bin/app', namespace: 'payments' }));
});

test('uid and gid `self` stand for the SelfIds given to compile', (t) => {
  const byUid = oneRule({ uid: 'self' });
  t.true(applies(byUid, { uid: SELF.uid, gid: 1 }));
  t.false(applies(byUid, { uid: 1000 }));
  t.false(applies(byUid, { uid: SELF.gid }), 'the gid of self is not the uid of self');

  const byGid = oneRule({ gid: 'self' });
  t.true(applies(byGid, { uid: 1, gid: SELF.gid }));
  t.false(applies(byGid, { uid: 1, gid: 1000 }));
  t.false(applies(byGid, { uid: 1, gid: SELF.uid }));

  const mixed = oneRule({ uid: ['self', 7] });
  t.true(applies(mixed, { uid: SELF.uid }));
  t.true(applies(mixed, { uid: 7 }));
  t.false(applies(mixed, { uid: 8 }));

  // Another SelfIds, the same configuration: `self` follows the compile argument.
  const other = AccessPolicy.compile(authorization({ rules: [{ name: 'r', match: { uid: 'self' }, keys: ['*'], operations: ['encrypt'] }] }), { uid: 77, gid: 78 });
  t.true(other.grantsFor(identity({ uid: 77 })).permits('encrypt', 'k'));
  t.false(other.grantsFor(identity({ uid: SELF.uid })).permits('encrypt', 'k'));
});

test('exe: `*` matches any run of characters, `/` included, and nothing else is a wildcard', (t) => {
  const policy = oneRule({ exe: '/usr/bin/*' });
  t.true(applies(policy, { exe: '/usr/bin/x' }));
  t.true(applies(policy, { exe: '/usr/bin/' }), '`*` matches the empty run');
  // glob-pattern.ts: "`*` matches any run of characters (including none)" — slashes too.
  t.true(applies(policy, { exe: '/usr/bin/sub/dir/x' }));
  t.false(applies(policy, { exe: '/usr/local/bin/x' }));
  t.false(applies(policy, { exe: '/usr/bin' }));
  t.false(applies(policy, { exe: '/opt/usr/bin/x' }), 'anchored at the start');
  t.false(applies(policy, {}), 'no exe known: the rule does not apply');
  t.false(applies(policy, { exe: '/usr/bin/x', exeVerified: false }), 'a path from another mount namespace never matches');

  const exact = oneRule({ exe: ['/opt/app/bin/server', '/opt/app/bin/worker'] });
  t.true(applies(exact, { exe: '/opt/app/bin/server' }));
  t.true(applies(exact, { exe: '/opt/app/bin/worker' }));
  t.false(applies(exact, { exe: '/opt/app/bin/server2' }));
  t.false(applies(exact, { exe: '/opt/app/bin/serve' }));

  // Regexp metacharacters in the pattern are literal.
  const meta = oneRule({ exe: '/opt/app+v1.2/(bin)/*' });
  t.true(applies(meta, { exe: '/opt/app+v1.2/(bin)/run' }));
  t.false(applies(meta, { exe: '/opt/apppv1.2/(bin)/run' }), '`+` is not a quantifier');
  t.false(applies(meta, { exe: '/opt/app+v1x2/(bin)/run' }), '`.` is not any character');
  t.false(applies(meta, { exe: '/opt/app+v1.2/bin/run' }), '`(` `)` are not a group');
});

test('container_id matches the exact id', (t) => {
  const policy = oneRule({ container_id: [CONTAINER_A] });
  t.true(applies(policy, { containerId: CONTAINER_A }));
  t.false(applies(policy, { containerId: CONTAINER_B }));
  t.false(applies(policy, {}));

  const two = oneRule({ container_id: [CONTAINER_A, CONTAINER_B] });
  t.true(applies(two, { containerId: CONTAINER_B }));
});

test('pod_uid matches whatever the case in the configuration', (t) => {
  const upper = oneRule({ pod_uid: POD_UID.toUpperCase() });
  t.true(applies(upper, { podUid: POD_UID }));
  const lower = oneRule({ pod_uid: [POD_UID] });
  t.true(applies(lower, { podUid: POD_UID }));
  t.false(applies(lower, { podUid: 'c0ffee00-0000-4000-8000-00000000abce' }));
  t.false(applies(lower, {}));
});

test('namespace and service_account match any listed value', (t) => {
  const ns = oneRule({ namespace: ['payments', 'orders'] });
  t.true(applies(ns, { namespace: 'payments' }));
  t.true(applies(ns, { namespace: 'orders' }));
  t.false(applies(ns, { namespace: 'payments-staging' }));
  t.false(applies(ns, {}));

  const sa = oneRule({ namespace: 'payments', service_account: ['api', 'worker'] });
  t.true(applies(sa, { namespace: 'payments', serviceAccount: 'api' }));
  t.true(applies(sa, { namespace: 'payments', serviceAccount: 'worker' }));
  t.false(applies(sa, { namespace: 'payments', serviceAccount: 'admin' }));
  t.false(applies(sa, { namespace: 'orders', serviceAccount: 'api' }));
  t.false(applies(sa, { namespace: 'payments' }), 'no service account: the rule does not apply');
});

test('claims: string, array and number claims, with `*` in the value', (t) => {
  const byString = oneRule({ claims: { sub: 'system:serviceaccount:payments:*' } });
  t.true(applies(byString, { claims: { sub: 'system:serviceaccount:payments:api' } }));
  t.false(applies(byString, { claims: { sub: 'system:serviceaccount:orders:api' } }));

  const byAudience = oneRule({ claims: { aud: 'keyward' } });
  t.true(applies(byAudience, { claims: { aud: ['vault', 'keyward'] } }), 'any element of an array claim');
  t.true(applies(byAudience, { claims: { aud: 'keyward' } }));
  t.false(applies(byAudience, { claims: { aud: ['vault', 'keyward-2'] } }));
  t.false(applies(byAudience, { claims: { aud: [] } }));

  const byNumber = oneRule({ claims: { level: ['3', '4'] } });
  t.true(applies(byNumber, { claims: { level: 3 } }));
  t.true(applies(byNumber, { claims: { level: [1, 4] } }));
  t.false(applies(byNumber, { claims: { level: 5 } }));
  t.false(applies(byNumber, { claims: { level: '33' } }));

  const byBoolean = oneRule({ claims: { admin: 'true' } });
  t.true(applies(byBoolean, { claims: { admin: true } }));
  t.false(applies(byBoolean, { claims: { admin: false } }));

  // Objects and null are not matched as text, not even by a bare `*`.
  t.false(applies(byString, { claims: { sub: { toString: () => 'system:serviceaccount:payments:api' } } }));
  const anything = oneRule({ claims: { sub: '*' } });
  t.true(applies(anything, { claims: { sub: '' } }));
  t.false(applies(anything, { claims: { sub: null } }));
  t.false(applies(anything, { claims: { sub: { name: 'x' } } }));
  t.false(applies(anything, { claims: { sub: [{ name: 'x' }, null, ['nested']] } }));
});

test('claims: every listed claim must hold', (t) => {
  const policy = oneRule({ claims: { iss: 'https://issuer', aud: 'keyward' } });
  t.true(applies(policy, { claims: { iss: 'https://issuer', aud: ['keyward'] } }));
  t.false(applies(policy, { claims: { iss: 'https://issuer' } }));
  t.false(applies(policy, { claims: { iss: 'https://other', aud: 'keyward' } }));
});

test('claims: a missing claim, or no claims at all, does not match', (t) => {
  const policy = oneRule({ claims: { team: 'payments' } });
  t.false(applies(policy, { claims: {} }));
  t.false(applies(policy, { claims: { other: 'payments' } }));
  t.false(applies(policy, {}), 'no token: no claims');
});

test('claims: a claim named like an Object.prototype member does not match when absent', (t) => {
  for (const name of ['constructor', 'toString', 'hasOwnProperty', 'valueOf']) {
    const policy = oneRule({ claims: { [name]: '*' } });
    t.false(applies(policy, { claims: {} }), `${name} absent`);
    t.false(applies(policy, { claims: { sub: 'x' } }), `${name} absent among others`);
    t.true(applies(policy, { claims: { [name]: 'anything' } }), `${name} present as an own claim`);
  }
});

test('an identity lacking an attribute the rule requires does not get the rule', (t) => {
  const policy = compile({
    rules: [
      { name: 'needs-namespace', match: { uid: 1000, namespace: 'payments' }, keys: ['*'], operations: ['encrypt'] },
      { name: 'needs-container', match: { uid: 1000, container_id: CONTAINER_A }, keys: ['*'], operations: ['decrypt'] },
      { name: 'needs-pod', match: { uid: 1000, pod_uid: POD_UID }, keys: ['*'], operations: ['sign'] },
      { name: 'needs-exe', match: { uid: 1000, exe: '/*' }, keys: ['*'], operations: ['mac'] },
      { name: 'needs-claim', match: { uid: 1000, claims: { sub: '*' } }, keys: ['*'], operations: ['verify'] },
    ],
  });
  const bare = policy.grantsFor(identity({ uid: 1000 }));
  t.deepEqual(bare.ruleNames, []);
  t.deepEqual(permitted(bare, 'alpha'), []);

  const full = policy.grantsFor(
    identity({ uid: 1000, namespace: 'payments', containerId: CONTAINER_A, podUid: POD_UID, exe: '/bin/x', claims: { sub: 's' } }),
  );
  t.deepEqual(full.ruleNames, ['needs-namespace', 'needs-container', 'needs-pod', 'needs-exe', 'needs-claim']);
  t.deepEqual(permitted(full, 'alpha'), ['encrypt', 'decrypt', 'sign', 'verify', 'mac']);
});

test('key patterns: *, prefix, suffix, exact', (t) => {
  const cases: Array<[string, string[], string[]]> = [
    ['*', ['alpha', 'payments-db', 'a', 'x.y_z-1'], []],
    ['payments-*', ['payments-db', 'payments-', 'payments-eu-1'], ['payments', 'payment-db', 'xpayments-db', 'Payments-db']],
    ['*-db', ['orders-db', '-db', 'a-b-db'], ['orders-db2', 'ordersdb', 'db']],
    ['alpha', ['alpha'], ['alpha2', 'alph', 'Alpha', 'xalpha']],
    ['pay*-db', ['payments-db', 'pay-db'], ['payments-db-2', 'pa-db']],
  ];
  for (const [pattern, yes, no] of cases) {
    const grants = oneRule({ uid: 1000 }, { operations: ['encrypt'] }, [pattern]).grantsFor(identity());
    for (const keyId of yes) t.true(grants.permits('encrypt', keyId), `${pattern} should match ${keyId}`);
    for (const keyId of no) t.false(grants.permits('encrypt', keyId), `${pattern} should not match ${keyId}`);
  }
});

test('key patterns: regexp metacharacters are literal', (t) => {
  const exact = oneRule({ uid: 1000 }, { operations: ['encrypt'] }, ['a.b']).grantsFor(identity());
  t.true(exact.permits('encrypt', 'a.b'));
  t.false(exact.permits('encrypt', 'axb'));

  const starred = oneRule({ uid: 1000 }, { operations: ['encrypt'] }, ['a.b*', '*.v1']).grantsFor(identity());
  t.true(starred.permits('encrypt', 'a.b'));
  t.true(starred.permits('encrypt', 'a.bc'));
  t.false(starred.permits('encrypt', 'axb'));
  t.false(starred.permits('encrypt', 'axbc'));
  t.true(starred.permits('encrypt', 'key.v1'));
  t.false(starred.permits('encrypt', 'key-v1'));
});

test('a rule lists several key patterns: any may match', (t) => {
  const grants = oneRule({ uid: 1000 }, { operations: ['decrypt'] }, ['alpha', 'orders-*']).grantsFor(identity());
  t.true(grants.permits('decrypt', 'alpha'));
  t.true(grants.permits('decrypt', 'orders-1'));
  t.false(grants.permits('decrypt', 'beta'));
});

test('two rules matching the same identity combine, each on its own keys', (t) => {
  const policy = compile({
    rules: [
      { name: 'by-uid', match: { uid: 1000 }, keys: ['payments-*'], operations: ['encrypt'] },
      { name: 'by-gid', match: { gid: 2000 }, keys: ['orders-*'], roles: ['key-user-decrypt'] },
      { name: 'someone-else', match: { uid: 1001 }, keys: ['*'], operations: [...OPERATIONS] },
    ],
  });
  const grants = policy.grantsFor(identity({ uid: 1000, gid: 2000 }));
  t.deepEqual(grants.ruleNames, ['by-uid', 'by-gid']);
  t.deepEqual(permitted(grants, 'payments-db'), ['encrypt']);
  t.deepEqual(permitted(grants, 'orders-db'), ['decrypt']);
  t.deepEqual(permitted(grants, 'alpha'), []);
  t.true(grants.grantsAny('encrypt'));
  t.true(grants.grantsAny('decrypt'));
  t.false(grants.grantsAny('sign'));

  const onlyUid = policy.grantsFor(identity({ uid: 1000, gid: 1 }));
  t.deepEqual(onlyUid.ruleNames, ['by-uid']);
  t.deepEqual(permitted(onlyUid, 'orders-db'), []);
});

test('grantsAny reports an operation granted on some key only', (t) => {
  const grants = oneRule({ uid: 1000 }, { operations: ['list'] }, ['nothing-exists-*']).grantsFor(identity());
  t.true(grants.grantsAny('list'));
  t.false(grants.grantsAny('describe'));
  t.false(grants.permits('list', 'alpha'));
});

function callerFixture() {
  const policy = compile({ rules: [{ name: 'r', match: { uid: 1000 }, keys: ['payments-*'], roles: ['key-user-encrypt'] }] });
  const who = { ...identity({ uid: 1000 }), subject: 'system:serviceaccount:payments:api' };
  const reports: FailedAttempt[] = [];
  const caller = new PolicyCaller(who, policy.grantsFor(who), (attempt) => reports.push(attempt));
  return { caller, reports };
}

test('PolicyCaller.authorize lets a granted call through without a report', (t) => {
  const { caller, reports } = callerFixture();
  t.notThrows(() => caller.authorize('encrypt', 'payments-db'));
  t.notThrows(() => caller.authorize('datakey', 'payments-db'));
  t.deepEqual(reports, []);
});

test('PolicyCaller.authorize denies with the one fixed error whether or not the key looks real, and reports it', (t) => {
  const { caller, reports } = callerFixture();
  const cases: Array<[Operation, string]> = [
    ['decrypt', 'payments-db'], // a key the caller may encrypt with
    ['encrypt', 'alpha'], // an existing-looking key outside its patterns
    ['encrypt', `random-${randomUUID()}`], // a key nobody ever configured
  ];
  for (const [operation, keyId] of cases) {
    const before = reports.length;
    const err = t.throws(() => caller.authorize(operation, keyId), { instanceOf: KeywardError }, `${operation} ${keyId}`);
    t.is(err?.code, 'permission-denied');
    t.is(err?.message, 'permission denied');
    t.false(err?.message.includes(keyId) ?? true, 'the message does not echo the key id');
    t.true(err?.cause instanceof DenialReason, 'the reason is kept in the cause');
    t.is(reports.length, before + 1, 'exactly one report per denial');
    const report = reports.at(-1);
    t.is(report?.subject, 'system:serviceaccount:payments:api');
    t.is(report?.operation, operation);
    t.is(report?.keyId, keyId);
    t.is(typeof report?.reason, 'string');
  }
});

test('PolicyCaller.permits never reports', (t) => {
  const { caller, reports } = callerFixture();
  t.false(caller.permits('decrypt', 'payments-db'));
  t.false(caller.permits('encrypt', 'alpha'));
  t.true(caller.permits('encrypt', 'payments-db'));
  t.deepEqual(reports, []);
});

test('PolicyCaller.authorizeAny: passes when some key is granted; otherwise permission denied, reported without a key id', (t) => {
  const { caller, reports } = callerFixture();
  t.notThrows(() => caller.authorizeAny('datakey'));
  t.deepEqual(reports, []);
  const err = t.throws(() => caller.authorizeAny('rotate'));
  t.true(isKeywardError(err, 'permission-denied'));
  t.is(err!.message, PERMISSION_DENIED_MESSAGE);
  t.is(reports.length, 1);
  t.is(reports[0]!.keyId, undefined);
  t.regex(reports[0]!.reason, /^no rule grants rotate on any key to system:serviceaccount:payments:api /);
});

test('memoized decisions stay right across more than 4096 distinct key ids', (t) => {
  const grants = compile({
    rules: [{ name: 'r', match: { uid: 1000 }, keys: ['payments-*'], operations: ['encrypt'] }],
  }).grantsFor(identity());
  const wrong: string[] = [];
  const check = (operation: Operation, keyId: string, expected: boolean) => {
    if (grants.permits(operation, keyId) !== expected) wrong.push(`${operation} ${keyId}: expected ${expected}`);
  };
  const N = 10_000; // well past the 4096-entry memo, so it is cleared more than once
  for (let pass = 0; pass < 2; pass++) {
    for (let i = 0; i < N; i++) {
      check('encrypt', `payments-${i}`, true);
      check('encrypt', `orders-${i}`, false);
      check('decrypt', `payments-${i}`, false);
    }
  }
  // Decisions asked long ago (now forgotten) and just now (remembered) agree.
  check('encrypt', 'payments-0', true);
  check('encrypt', 'orders-0', false);
  check('encrypt', `payments-${N - 1}`, true);
  check('encrypt', `orders-${N - 1}`, false);
  t.deepEqual(wrong.slice(0, 20), []);
});
