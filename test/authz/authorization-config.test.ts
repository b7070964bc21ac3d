// The `authorization` section as parseConfig validates it: each mistake an operator can
// make is refused with 'invalid-argument' and a message naming the exact path of the
// offending field, and a full valid section parses with its defaults applied and comes
// back deeply frozen. (The admin socket mode check lives in the server section but
// guards the same thing: who can reach the admin plane.)
import test, { type ExecutionContext } from 'ava';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeywardError } from '../../src/core/keyward-error.js';
import type { Config } from '../../src/config/config-schema.js';
import { parseConfig } from '../../src/config/load-config.js';
import { testConfigObject } from '../support/test-daemon.js';
import { AccessPolicy } from '../../src/authz/access-policy.js';

/** Only names socket and keystore paths in the config; nothing is created or started. */
const DIR = join(tmpdir(), 'keyward-authorization-config-test');

const CONTAINER_ID = '0123456789abcdef'.repeat(4);
const POD_UID = 'c0ffee00-0000-4000-8000-000000000002';

function parseWith(authorization: unknown): Config {
  return parseConfig(testConfigObject(DIR, { authorization }));
}

/** A valid rule with `changes` applied (a field set to undefined is left out). */
function rule(changes: Record<string, unknown> = {}): Record<string, unknown> {
  const base: Record<string, unknown> = { name: 'r', match: { uid: 1000 }, keys: ['*'], operations: ['encrypt'], ...changes };
  return Object.fromEntries(Object.entries(base).filter(([, v]) => v !== undefined));
}

/**
 * Asserts that parsing `raw` fails with 'invalid-argument' and a message line for
 * exactly `path`; returns the text after "<path>: " for finer checks.
 */
function assertRefused(t: ExecutionContext, raw: Record<string, unknown>, path: string): string {
  const err = t.throws(() => parseConfig(raw), { instanceOf: KeywardError }, path);
  t.is(err?.code, 'invalid-argument', path);
  const lines = (err?.message ?? '').split('\n').map((line) => line.trim());
  const line = lines.find((l) => l.startsWith(`${path}: `));
  t.truthy(line, `a line for ${path} in:\n${err?.message}`);
  return line?.slice(path.length + 2) ?? '';
}

function assertAuthzRefused(t: ExecutionContext, authorization: unknown, path: string): string {
  return assertRefused(t, testConfigObject(DIR, { authorization }), path);
}

test('the valid baseline used below parses', (t) => {
  t.notThrows(() => parseWith({ rules: [rule()] }));
});

test('a rule with an empty match is refused', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule({ match: {} })] }, 'authorization.rules[0].match');
  t.regex(detail, /at least one attribute/);
});

test('a rule whose match only has empty claims is refused', (t) => {
  assertAuthzRefused(t, { rules: [rule({ match: { claims: {} } })] }, 'authorization.rules[0].match');
});

test('a rule with no roles and no operations is refused', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule({ operations: undefined })] }, 'authorization.rules[0]');
  t.regex(detail, /at least one role or operation/);
  assertAuthzRefused(t, { rules: [rule({ operations: [], roles: [] })] }, 'authorization.rules[0]');
});

test('an unknown role is refused, and the message lists the known roles', (t) => {
  const detail = assertAuthzRefused(
    t,
    { roles: { rotator: ['rotate'] }, rules: [rule(), rule({ name: 'second', roles: ['signer', 'key-wizard'] })] },
    'authorization.rules[1].roles[1]',
  );
  t.regex(detail, /"key-wizard"/);
  for (const known of ['key-user-encrypt', 'key-user-decrypt', 'signer', 'key-auditor', 'key-admin', 'rotator']) {
    t.true(detail.includes(known), `lists ${known}: ${detail}`);
  }
});

test("role names that are Object.prototype properties are roles like any other: unknown when undeclared, allowed as custom names", (t) => {
  for (const name of ['toString', 'constructor', 'valueOf', 'hasOwnProperty']) {
    const detail = assertAuthzRefused(t, { rules: [rule({ roles: [name] })] }, 'authorization.rules[0].roles[0]');
    t.regex(detail, new RegExp(`"${name}"`));
  }
  const parsed = parseWith({ roles: { constructor: ['rotate'] }, rules: [rule({ roles: ['constructor'] })] });
  t.deepEqual(parsed.authorization.roles['constructor'], ['rotate']);
  // And the compiled policy grants what it names (it threw "not iterable" on a prototype name).
  t.true(AccessPolicy.compile(parsed.authorization, { uid: 0, gid: 0 }).grantsFor({ peer: { pid: 1, uid: 1000, gid: 1000 }, subject: 'uid:1000' }).permits('rotate', 'alpha'));
});

test('a built-in role cannot be redefined under roles', (t) => {
  const detail = assertAuthzRefused(t, { roles: { signer: ['encrypt', 'decrypt'] }, rules: [rule({ roles: ['signer'] })] }, 'authorization.roles.signer');
  t.regex(detail, /built-in/);
});

test('duplicate rule names are refused at the second one', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule({ name: 'same' }), rule({ name: 'other' }), rule({ name: 'same' })] }, 'authorization.rules[2].name');
  t.regex(detail, /duplicate rule name "same"/);
});

test('a key pattern with characters outside key ids is refused', (t) => {
  assertAuthzRefused(t, { rules: [rule({ keys: ['pay/ments'] })] }, 'authorization.rules[0].keys[0]');
  assertAuthzRefused(t, { rules: [rule({ keys: ['alpha', 'pay ments'] })] }, 'authorization.rules[0].keys[1]');
  assertAuthzRefused(t, { rules: [rule({ keys: [] })] }, 'authorization.rules[0].keys');
});

test('an unknown operation is refused with the list of operations', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule({ operations: ['encrypt', 'explode'] })] }, 'authorization.rules[0].operations[1]');
  t.true(detail.includes('"encrypt"') && detail.includes('"rotate"'), detail);
});

test('an unknown operation in a custom role is refused', (t) => {
  assertAuthzRefused(t, { roles: { odd: ['explode'] }, rules: [rule()] }, 'authorization.roles.odd[0]');
});

test('an unknown field inside match is refused by name', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule({ match: { uid: 1000, user: 'alice' } })] }, 'authorization.rules[0].match');
  t.regex(detail, /unknown field "user"/);
});

test('a container_id that is not 64 lowercase hex characters is refused', (t) => {
  for (const bad of ['abc123', CONTAINER_ID.slice(1), `${CONTAINER_ID}0`, CONTAINER_ID.toUpperCase(), `${CONTAINER_ID.slice(1)}g`, '*']) {
    const detail = assertAuthzRefused(t, { rules: [rule({ match: { container_id: bad } })] }, 'authorization.rules[0].match.container_id');
    t.regex(detail, /container id/, bad);
  }
  assertAuthzRefused(t, { rules: [rule({ match: { container_id: [CONTAINER_ID, 'abc'] } })] }, 'authorization.rules[0].match.container_id[1]');
});

test('a pod_uid that is not a UUID is refused', (t) => {
  for (const bad of ['not-a-uuid', POD_UID.slice(1), `${POD_UID}0`, POD_UID.replaceAll('-', ''), '*']) {
    const detail = assertAuthzRefused(t, { rules: [rule({ match: { pod_uid: bad } })] }, 'authorization.rules[0].match.pod_uid');
    t.regex(detail, /pod UID/, bad);
  }
});

test('uid and gid must be non-negative integers or "self"', (t) => {
  const bad: unknown[] = [-1, 'root', '1000', 1.5, 'SELF', true];
  for (const attr of ['uid', 'gid']) {
    for (const value of bad) {
      assertAuthzRefused(t, { rules: [rule({ match: { [attr]: value } })] }, `authorization.rules[0].match.${attr}`);
    }
    assertAuthzRefused(t, { rules: [rule({ match: { [attr]: ['self', -5] } })] }, `authorization.rules[0].match.${attr}[1]`);
    assertAuthzRefused(t, { rules: [rule({ match: { [attr]: [] } })] }, `authorization.rules[0].match.${attr}`);
  }
});

test('an exe that is not an absolute path is refused', (t) => {
  assertAuthzRefused(t, { rules: [rule({ match: { exe: 'bin/app' } })] }, 'authorization.rules[0].match.exe');
});

test('an admin socket mode open to others is refused, group access is accepted', (t) => {
  for (const mode of ['0666', '0604', '0601']) {
    const raw = testConfigObject(DIR);
    (raw.server as { admin_socket: Record<string, unknown> }).admin_socket.mode = mode;
    const detail = assertRefused(t, raw, 'server.admin_socket.mode');
    t.regex(detail, /others/, mode);
  }
  for (const [mode, bits] of [
    ['0660', 0o660],
    ['0600', 0o600],
  ] as const) {
    const raw = testConfigObject(DIR);
    (raw.server as { admin_socket: Record<string, unknown> }).admin_socket.mode = mode;
    t.is(parseConfig(raw).server.admin_socket.mode, bits, mode);
  }
});

test('a bearer_token without an audience is refused', (t) => {
  const detail = assertAuthzRefused(t, { bearer_token: { jwks_file: '/etc/keyward/jwks.json', issuer: 'https://kubernetes.default.svc' } }, 'authorization.bearer_token.audience');
  t.is(detail, 'required');
});

test('an unknown field in the authorization section is refused', (t) => {
  const detail = assertAuthzRefused(t, { rules: [rule()], default: 'allow' }, 'authorization');
  t.regex(detail, /unknown field "default"/);
});

test('no authorization section: no rules (deny), default failed-attempt settings', (t) => {
  const raw = testConfigObject(DIR);
  delete raw.authorization;
  const authz = parseConfig(raw).authorization;
  t.deepEqual(authz.rules, []);
  t.deepEqual(authz.roles, {});
  t.is(authz.bearer_token, undefined);
  t.deepEqual(authz.failed_attempts, { threshold: 3, window_ms: 300_000 });
});

const FULL_EXAMPLE = {
  roles: { 'key-rotator': ['rotate', 'describe'] },
  rules: [
    {
      name: 'payments-api',
      match: {
        uid: [1000, 'self'],
        gid: 'self',
        exe: '/usr/bin/*',
        container_id: CONTAINER_ID,
        pod_uid: POD_UID.toUpperCase(),
        namespace: 'payments',
        service_account: ['api', 'worker'],
        claims: { aud: 'keyward', sub: ['system:serviceaccount:payments:*'] },
      },
      keys: ['payments-*', 'shared.v1'],
      roles: ['key-user-encrypt', 'key-rotator'],
      operations: ['sign'],
    },
    { name: 'ops.admins', match: { gid: 50 }, keys: ['*'], roles: ['key-admin'] },
    { name: 'auditor_1', match: { uid: 0 }, keys: ['*'], operations: ['list'] },
  ],
  bearer_token: { jwks_file: '/etc/keyward/jwks.json', issuer: 'https://kubernetes.default.svc', audience: 'keyward' },
};

test('a full example parses, normalized and with its defaults applied', (t) => {
  const authz = parseWith(FULL_EXAMPLE).authorization;
  t.deepEqual(authz.roles, { 'key-rotator': ['rotate', 'describe'] });
  t.is(authz.rules.length, 3);
  t.deepEqual(authz.rules[0], {
    name: 'payments-api',
    match: {
      uid: [1000, 'self'],
      gid: ['self'],
      exe: ['/usr/bin/*'],
      container_id: [CONTAINER_ID],
      pod_uid: [POD_UID.toUpperCase()],
      namespace: ['payments'],
      service_account: ['api', 'worker'],
      claims: { aud: ['keyward'], sub: ['system:serviceaccount:payments:*'] },
    },
    keys: ['payments-*', 'shared.v1'],
    roles: ['key-user-encrypt', 'key-rotator'],
    operations: ['sign'],
  });
  t.deepEqual(authz.rules[1], { name: 'ops.admins', match: { gid: [50] }, keys: ['*'], roles: ['key-admin'], operations: [] });
  t.deepEqual(authz.rules[2], { name: 'auditor_1', match: { uid: [0] }, keys: ['*'], roles: [], operations: ['list'] });
  t.deepEqual(authz.bearer_token, {
    jwks_file: '/etc/keyward/jwks.json',
    issuer: 'https://kubernetes.default.svc',
    audience: 'keyward',
    required: false,
    clock_tolerance_sec: 30,
  });
  t.deepEqual(authz.failed_attempts, { threshold: 3, window_ms: 300_000 });
});

test('explicit failed_attempts and bearer_token settings are kept', (t) => {
  const authz = parseWith({
    ...FULL_EXAMPLE,
    bearer_token: { ...FULL_EXAMPLE.bearer_token, required: true, clock_tolerance_sec: 0 },
    failed_attempts: { threshold: 10 },
  }).authorization;
  t.is(authz.bearer_token?.required, true);
  t.is(authz.bearer_token?.clock_tolerance_sec, 0);
  t.deepEqual(authz.failed_attempts, { threshold: 10, window_ms: 300_000 });
});

test('the parsed authorization section is deeply frozen', (t) => {
  const config = parseWith(FULL_EXAMPLE);
  const authz = config.authorization;
  const rule0 = authz.rules[0]!;
  const nodes: Array<[string, unknown]> = [
    ['config', config],
    ['authorization', authz],
    ['roles', authz.roles],
    ['roles.key-rotator', authz.roles['key-rotator']],
    ['rules', authz.rules],
    ['rules[0]', rule0],
    ['rules[0].match', rule0.match],
    ['rules[0].match.uid', rule0.match.uid],
    ['rules[0].match.claims', rule0.match.claims],
    ['rules[0].match.claims.aud', rule0.match.claims?.['aud']],
    ['rules[0].keys', rule0.keys],
    ['rules[0].roles', rule0.roles],
    ['rules[0].operations', rule0.operations],
    ['bearer_token', authz.bearer_token],
    ['failed_attempts', authz.failed_attempts],
  ];
  for (const [name, node] of nodes) {
    t.truthy(node, name);
    t.true(Object.isFrozen(node), `${name} is frozen`);
  }
  // Modules are strict: writing to a frozen object throws.
  t.throws(() => (authz.rules as unknown[]).push(rule()), { instanceOf: TypeError });
  t.throws(
    () => {
      (rule0.keys as string[])[0] = '*';
    },
    { instanceOf: TypeError },
  );
  t.throws(
    () => {
      (authz.failed_attempts as { threshold: number }).threshold = 1_000;
    },
    { instanceOf: TypeError },
  );
  t.is(rule0.keys[0], 'payments-*');
  t.is(authz.failed_attempts.threshold, 3);
});

test('parsing does not modify the raw object it was given', (t) => {
  const raw = testConfigObject(DIR, { authorization: structuredClone(FULL_EXAMPLE) });
  const before = structuredClone(raw);
  parseConfig(raw);
  t.deepEqual(raw, before);
  t.false(Object.isFrozen(raw.authorization));
});
