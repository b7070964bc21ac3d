// Least privilege as callers meet it: real client processes under different uids and
// gids (setpriv) call a running daemon over its sockets; every identity × operation ×
// key cell is asserted against a table written here, independently of the policy code.
// Denials carry one message whether or not the key exists; forged metadata gains
// nothing; the admin socket is its own socket with its own roles.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { spawn } from 'node:child_process';
import { chmodSync, readFileSync, realpathSync } from 'node:fs';
import { join } from 'node:path';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';
import { ALLOW_SELF_EVERYTHING } from '../support/allow-all-callers.js';

const CLIENT = join(process.cwd(), 'dist/test/authz/matrix-client-entry.js');

/** The identities: uid/gid the client process runs as. */
const IDENTITIES = {
  payments: { uid: 4242, gid: 4343 },
  ingest: { uid: 4244, gid: 4343 },
  signer: { uid: 4245, gid: 4345 },
  stranger: { uid: 4246, gid: 4346 },
  wrongExe: { uid: 4247, gid: 4343 },
} as const;
type Who = keyof typeof IDENTITIES;

const KEYS = [
  { id: 'payments-db', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'shared-data', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'signing-key', purpose: 'sign', algorithm: 'ed25519', backend: 'local' },
  { id: 'webhooks', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'local' },
];
const GHOST = 'payments-ghost';

const POLICY = {
  rules: [
    ...ALLOW_SELF_EVERYTHING.rules,
    { name: 'payments-app', match: { uid: 4242 }, keys: ['payments-*'], roles: ['key-user-encrypt', 'key-user-decrypt', 'key-auditor'], operations: ['reencrypt'] },
    { name: 'ingest', match: { uid: 4244 }, keys: ['payments-*'], roles: ['key-user-encrypt', 'key-admin'] },
    { name: 'shared-readers', match: { gid: 4343 }, keys: ['shared-*'], roles: ['key-user-decrypt'] },
    { name: 'release-signer', match: { uid: 4245 }, keys: ['signing-*', 'webhooks'], roles: ['signer'] },
    { name: 'exe-bound', match: { uid: 4247, exe: '/nonexistent/app' }, keys: ['*'], roles: ['key-user-encrypt', 'key-user-decrypt', 'signer', 'key-admin'] },
  ],
};

/** The expected grants, by hand: identity → [key predicate, operations]. */
const EXPECTED: Record<Who, Array<[(key: string) => boolean, string[]]>> = {
  payments: [
    [(k) => k.startsWith('payments-'), ['encrypt', 'datakey', 'decrypt', 'reencrypt', 'list', 'describe']],
    [(k) => k.startsWith('shared-'), ['decrypt']],
  ],
  ingest: [
    [(k) => k.startsWith('payments-'), ['encrypt', 'datakey', 'list', 'describe', 'rotate']],
    [(k) => k.startsWith('shared-'), ['decrypt']],
  ],
  signer: [[(k) => k.startsWith('signing-') || k === 'webhooks', ['sign', 'mac', 'verify', 'public_key']]],
  stranger: [],
  // Its own rule requires an executable it does not run; its group's rule still applies.
  wrongExe: [[(k) => k.startsWith('shared-'), ['decrypt']]],
};

function granted(who: Who, operation: string, keyId: string): boolean {
  return EXPECTED[who].some(([covers, ops]) => covers(keyId) && ops.includes(operation));
}

const b64 = (bytes: Uint8Array) => ({ $b64: Buffer.from(bytes).toString('base64') });

interface Cell {
  readonly who: Who;
  readonly operation: string;
  readonly keyId: string;
  readonly call: { plane: 'data' | 'admin'; method: string; request: unknown; metadata?: Record<string, string> };
  /** What a caller who is granted the operation gets. */
  readonly whenGranted: status;
}

const PURPOSE = new Map(KEYS.map((k) => [k.id, k.purpose]));

/** OK when the key exists and fits the operation; else what the registry says. */
function grantedOutcome(keyId: string, purposes: string[]): status {
  const purpose = PURPOSE.get(keyId);
  if (purpose === undefined) return status.NOT_FOUND;
  return purposes.includes(purpose) ? status.OK : status.FAILED_PRECONDITION;
}

interface Fixtures {
  readonly ciphertexts: Map<string, Uint8Array>;
  readonly signature: Uint8Array;
}

function dataCells(who: Who, fx: Fixtures): Cell[] {
  const cells: Cell[] = [];
  const message = b64(Buffer.from('matrix message'));
  for (const keyId of [...KEYS.map((k) => k.id), GHOST]) {
    const add = (operation: string, method: string, request: unknown, purposes: string[]) =>
      cells.push({ who, operation, keyId, call: { plane: 'data', method, request }, whenGranted: grantedOutcome(keyId, purposes) });
    add('encrypt', 'encrypt', { keyId, plaintext: message }, ['encrypt']);
    add('datakey', 'generateDataKey', { keyId }, ['encrypt']);
    add('sign', 'sign', { keyId, input: { case: 'message', value: message } }, ['sign']);
    add('sign', 'signJwt', { keyId, claimsJson: '{"sub":"matrix"}' }, ['sign']);
    add('verify', 'verify', { keyId, input: { case: 'message', value: message }, signature: b64(fx.signature) }, ['sign']);
    add('mac', 'computeMac', { keyId, data: message }, ['mac']);
    add('verify', 'verifyMac', { keyId, data: message, mac: b64(Buffer.alloc(32, 7)) }, ['mac']);
    add('public_key', 'getPublicKey', { keyId }, ['sign']);
    const ciphertext = fx.ciphertexts.get(keyId);
    if (ciphertext !== undefined) {
      add('decrypt', 'decrypt', { ciphertext: b64(ciphertext) }, ['encrypt']);
      add('decrypt', 'decryptBatch', { items: [{ ciphertext: b64(ciphertext) }] }, ['encrypt']);
      add('reencrypt', 'reEncrypt', { ciphertext: b64(ciphertext) }, ['encrypt']);
    }
  }
  return cells;
}

function adminCells(who: Who): Cell[] {
  const cells: Cell[] = [];
  for (const keyId of ['payments-db', 'shared-data']) {
    cells.push({ who, operation: 'describe', keyId, call: { plane: 'admin', method: 'describeKey', request: { keyId } }, whenGranted: status.OK });
    cells.push({ who, operation: 'rotate', keyId, call: { plane: 'admin', method: 'rotateKey', request: { keyId } }, whenGranted: status.OK });
    // No identity here holds key-escrow-officer: key-admin (ingest) must not grant escrow.
    // Granted, it would reach the daemon's missing escrow configuration.
    const split = { keyId, shares: 2, threshold: 2 };
    cells.push({ who, operation: 'escrow', keyId, call: { plane: 'admin', method: 'splitKeyEscrow', request: split }, whenGranted: status.FAILED_PRECONDITION });
  }
  return cells;
}

interface Result {
  readonly code: number;
  readonly details?: string;
  readonly keyIds?: string[];
  readonly items?: number[];
}

/** Runs the client process as `who` (asynchronously: the daemon lives in this process). */
async function runClient(who: Who, d: TestDaemon, calls: Cell['call'][]): Promise<Result[]> {
  const { uid, gid } = IDENTITIES[who];
  const child = spawn('setpriv', ['--reuid', String(uid), '--regid', String(gid), '--clear-groups', process.execPath, CLIENT], { timeout: 60_000 });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  child.stdin.end(JSON.stringify({ socket: d.socketPath, adminSocket: d.adminSocketPath, calls }));
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  if (code !== 0) throw new Error(`client ${who} exited ${code}: ${stderr}`);
  return JSON.parse(stdout) as Result[];
}

async function fixtures(d: TestDaemon): Promise<Fixtures> {
  const ciphertexts = new Map<string, Uint8Array>();
  for (const keyId of ['payments-db', 'shared-data']) {
    ciphertexts.set(keyId, (await d.client.encrypt({ keyId, plaintext: Buffer.from(`secret of ${keyId}`) })).ciphertext);
  }
  const signature = (await d.client.sign({ keyId: 'signing-key', input: { case: 'message', value: Buffer.from('matrix message') } })).signature;
  return { ciphertexts, signature };
}

async function startMatrixDaemon(t: import('ava').ExecutionContext): Promise<{ d: TestDaemon; auditPath: string }> {
  const dir = makeTempDir();
  chmodSync(dir, 0o755);
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({
    dir,
    overrides: {
      server: {
        data_socket: { path: join(dir, 'keyward.sock'), mode: '0666' },
        admin_socket: { path: join(dir, 'admin.sock'), mode: '0660', group: 4343 },
        shutdown_grace_ms: 2_000,
      },
      keys: KEYS,
      authorization: POLICY,
      audit: { log: { path: auditPath, fsync: 'every-record' } },
    },
  });
  t.teardown(() => d.dispose());
  return { d, auditPath };
}

test('every identity × operation × key cell: allowed exactly where the policy grants, PERMISSION_DENIED with one message elsewhere', async (t) => {
  const { d, auditPath } = await startMatrixDaemon(t);
  const fx = await fixtures(d);
  const wrong: string[] = [];
  let allowed = 0;
  let deniedCells = 0;
  for (const who of Object.keys(IDENTITIES) as Who[]) {
    const cells = [...dataCells(who, fx), ...(IDENTITIES[who].gid === 4343 ? adminCells(who) : [])];
    const results = await runClient(who, d, cells.map((c) => c.call));
    cells.forEach((cell, i) => {
      const got = results[i]!;
      const isGranted = granted(who, cell.operation, cell.keyId);
      // A batch reports per item: the call is OK, the item carries the status.
      const expected = isGranted ? cell.whenGranted : status.PERMISSION_DENIED;
      if (isGranted) allowed++;
      else deniedCells++;
      const label = `${who} ${cell.call.method}(${cell.keyId})`;
      if (cell.call.method === 'decryptBatch') {
        if (got.code !== 0 || got.items?.[0] !== expected) wrong.push(`${label}: expected item ${status[expected]}, got call ${got.code} items ${got.items}`);
        return;
      }
      if (got.code !== expected) wrong.push(`${label}: expected ${status[expected]}, got ${status[got.code]} ${got.details ?? ''}`);
      if (expected === status.PERMISSION_DENIED && got.details !== 'permission denied') wrong.push(`${label}: denial message "${got.details}"`);
    });
  }
  t.deepEqual(wrong, []);
  t.true(allowed > 20 && deniedCells > 100, `${allowed} allowed, ${deniedCells} denied`);

  // The audit log names the actor, the key and the reason of each denial (policy §8).
  const records = readFileSync(auditPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  const denial = records.find((r) => r['outcome'] === 'PERMISSION_DENIED' && r['actor'] === 'uid:4246' && r['key_id'] === 'payments-db');
  t.truthy(denial);
  t.regex(String(denial?.["reason"]), /no rule grants \w+ on key "payments-db" to uid:4246 \(rules that apply to it: none\)/);
  t.is(denial?.['exe'], realpathSync(process.execPath));
  // More than 3 denials in 5 minutes: the stranger raised an alert.
  t.truthy(records.find((r) => r['event'] === 'alert.failed_attempts' && r['enduser.id'] === 'uid:4246' && r['level'] === 'error'));
});

test('ListKeys shows each caller only the keys it may list; a caller granted no listing is denied; the admin socket refuses other groups', async (t) => {
  const { d } = await startMatrixDaemon(t);
  const list = { plane: 'admin' as const, method: 'listKeys', request: {} };
  t.deepEqual(await runClient('payments', d, [list]), [{ code: 0, keyIds: ['payments-db'] }]);
  t.deepEqual(await runClient('ingest', d, [list]), [{ code: 0, keyIds: ['payments-db'] }]);
  t.deepEqual(await runClient('wrongExe', d, [list]), [{ code: status.PERMISSION_DENIED, details: 'permission denied' }]);
  // gid 4346 is not the admin socket's group: the kernel refuses the connection.
  const [stranger] = await runClient('stranger', d, [list]);
  t.is(stranger?.code, status.UNAVAILABLE);
  // The daemon's own uid (granted everything here) sees every key.
  t.deepEqual(
    (await d.admin.listKeys({})).keys.map((k) => k.keyId),
    KEYS.map((k) => k.id),
  );
});

test('the planes never reach each other: KeyAdminService is not served on the data socket, nor KeyService on the admin socket', async (t) => {
  const { d } = await startMatrixDaemon(t);
  const { createKeyAdminClient, createKeyServiceClient } = await import('../../src/client/keyward-client.js');
  const adminOnData = createKeyAdminClient(d.socketPath);
  const dataOnAdmin = createKeyServiceClient(d.adminSocketPath);
  t.teardown(() => {
    adminOnData.close();
    dataOnAdmin.close();
  });
  await rejectsWithCode(t, adminOnData.rotateKey({ keyId: 'payments-db' }), status.UNIMPLEMENTED);
  await rejectsWithCode(t, dataOnAdmin.encrypt({ keyId: 'payments-db', plaintext: Buffer.from('x') }), status.UNIMPLEMENTED);
});

test('a client that forges an identity in its metadata gains nothing', async (t) => {
  const { d } = await startMatrixDaemon(t);
  const forged = {
    'x-keyward-uid': '0',
    'x-keyward-identity': 'uid:0',
    'enduser.id': 'uid:0',
    'x-forwarded-user': 'root',
    // An unsigned token claiming the payments service account: no bearer_token is
    // configured, so the daemon does not read it at all.
    authorization: `Bearer ${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from('{"sub":"system:serviceaccount:payments:api"}').toString('base64url')}.`,
  };
  const calls = [
    { plane: 'data' as const, method: 'encrypt', request: { keyId: 'payments-db', plaintext: b64(Buffer.from('x')) }, metadata: forged },
    { plane: 'data' as const, method: 'sign', request: { keyId: 'signing-key', input: { case: 'message', value: b64(Buffer.from('x')) } }, metadata: forged },
    { plane: 'data' as const, method: 'encrypt', request: { keyId: 'payments-db', plaintext: b64(Buffer.from('x')) } },
  ];
  const results = await runClient('stranger', d, calls);
  t.deepEqual(
    results.map((r) => r.code),
    [status.PERMISSION_DENIED, status.PERMISSION_DENIED, status.PERMISSION_DENIED],
  );
  // The same metadata from a caller that is allowed changes nothing either way.
  const payments = await runClient('payments', d, [calls[0]!, { ...calls[1]!, metadata: forged }]);
  t.deepEqual(
    payments.map((r) => r.code),
    [status.OK, status.PERMISSION_DENIED],
  );
});
