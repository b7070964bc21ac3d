// The admin plane on admin.sock: KeyAdminService over gRPC (grpc-js) and over Connect
// JSON on plain HTTP/1.1 (what curl --unix-socket sends), and never on the data socket.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { request } from 'node:http';
import { createServiceClient } from '../../src/client/keyward-client.js';
import { KeyAdminService, KeyAlgorithm, KeyPurpose, KeyVersionState } from '../../src/wire/gen/keyward/v1/key_admin_service_pb.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

let d: TestDaemon;
test.before(async () => {
  d = await startTestDaemon();
});
test.after.always(async () => {
  await d?.dispose();
});

function postJson(socketPath: string, path: string, body: unknown): Promise<{ status: number; headers: Record<string, unknown>; json: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { socketPath, path, method: 'POST', headers: { 'content-type': 'application/json', 'accept-encoding': 'gzip' } },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, json: JSON.parse(Buffer.concat(chunks).toString() || 'null') }));
      },
    );
    req.on('error', reject);
    req.end(JSON.stringify(body));
  });
}

test('ListKeys lists every configured key with purpose, algorithm and versions', async (t) => {
  const { keys } = await d.admin.listKeys({});
  const byId = new Map(keys.map((k) => [k.keyId, k]));
  t.deepEqual([...byId.keys()].sort(), ['alpha', 'beta', 'gamma', 'hmac', 'signer']);
  t.is(byId.get('alpha')!.purpose, KeyPurpose.ENCRYPT);
  t.is(byId.get('signer')!.algorithm, KeyAlgorithm.ED25519);
  t.is(byId.get('hmac')!.purpose, KeyPurpose.MAC);
  t.is(byId.get('gamma')!.backend, 'local');
  t.is(byId.get('gamma')!.versions[0]!.state, KeyVersionState.ENABLED);
});

test('DescribeKey: versions and states; unknown key → NOT_FOUND; empty id → INVALID_ARGUMENT', async (t) => {
  const { key } = await d.admin.describeKey({ keyId: 'beta' });
  t.is(key!.keyId, 'beta');
  t.true(key!.versions.length >= 1);
  t.truthy(key!.versions[0]!.createTime);
  await rejectsWithCode(t, d.admin.describeKey({ keyId: 'nope' }), status.NOT_FOUND, 'key "nope" not found');
  await rejectsWithCode(t, d.admin.describeKey({ keyId: '' }), status.INVALID_ARGUMENT, 'key_id is required');
});

test('RotateKey makes a new primary version; the old one keeps decrypting', async (t) => {
  const old = await d.client.encrypt({ keyId: 'gamma', plaintext: Buffer.from('old') });
  const { key } = await d.admin.rotateKey({ keyId: 'gamma' });
  t.is(key!.primaryVersion, old.keyVersion + 1);
  t.deepEqual(key!.versions.map((v) => v.state), key!.versions.map(() => KeyVersionState.ENABLED));
  const fresh = await d.client.encrypt({ keyId: 'gamma', plaintext: Buffer.from('new') });
  t.is(fresh.keyVersion, key!.primaryVersion);
  t.is(Buffer.from((await d.client.decrypt({ ciphertext: old.ciphertext })).plaintext).toString(), 'old');
  await rejectsWithCode(t, d.admin.rotateKey({ keyId: 'nope' }), status.NOT_FOUND);
});

test('Connect JSON over HTTP/1.1 on the admin socket (curl --unix-socket), uncompressed', async (t) => {
  const ok = await postJson(d.adminSocketPath, '/keyward.v1.KeyAdminService/DescribeKey', { keyId: 'alpha' });
  t.is(ok.status, 200);
  t.is((ok.json as { key: { keyId: string; purpose: string } }).key.keyId, 'alpha');
  t.is((ok.json as { key: { purpose: string } }).key.purpose, 'KEY_PURPOSE_ENCRYPT');
  t.is(ok.headers['content-encoding'], undefined);
  const missing = await postJson(d.adminSocketPath, '/keyward.v1.KeyAdminService/DescribeKey', { keyId: 'nope' });
  t.is(missing.status, 404);
  t.deepEqual(missing.json, { code: 'not_found', message: 'key "nope" not found' });
});

test('the admin service is not reachable through the data socket', async (t) => {
  const sneaky = createServiceClient(KeyAdminService, d.socketPath);
  t.teardown(() => sneaky.close());
  await rejectsWithCode(t, sneaky.rotateKey({ keyId: 'alpha' }), status.UNIMPLEMENTED);
  await rejectsWithCode(t, sneaky.listKeys({}), status.UNIMPLEMENTED);
});
