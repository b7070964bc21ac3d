// Identity attributes beyond uid and gid, end to end over the real socket: the
// container and pod the cgroup file names (a fixture /proc for this process, since the
// in-process client connects from this pid), and the Kubernetes service-account token
// of mesh sidecar mode — verified against a JWKS file, bound to the calling pod, its
// claims matched by rules, and every refusal with its exact code.
import test, { type ExecutionContext } from 'ava';
import { status } from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose';
import { mkdirSync, readFileSync, readlinkSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const POD_UID = '5f0c3e2a-1b2c-4d3e-8f40-0123456789ab';
const OTHER_POD_UID = '9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d';
const CONTAINER_ID = 'a'.repeat(40) + '0123456789abcdef01234567';

const KEYS = [
  { id: 'payments-db', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'batch-jobs', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'pod-secrets', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
];

/** A fixture /proc holding this process, in the pod and container given (or none). */
function fixtureProc(dir: string, cgroup: string): string {
  const root = join(dir, 'proc');
  const self = join(root, String(process.pid));
  mkdirSync(self, { recursive: true });
  // /proc files report size 0: read them, do not copy them.
  writeFileSync(join(self, 'stat'), readFileSync(`/proc/${process.pid}/stat`));
  symlinkSync(process.execPath, join(self, 'exe'));
  // The same mount namespace as the daemon (this process): its exe path can be trusted.
  mkdirSync(join(self, 'ns'));
  symlinkSync(readlinkSync('/proc/self/ns/mnt'), join(self, 'ns', 'mnt'));
  writeFileSync(join(self, 'cgroup'), cgroup);
  return root;
}

function podCgroup(podUid: string): string {
  return `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${podUid.replaceAll('-', '_')}.slice/cri-containerd-${CONTAINER_ID}.scope\n`;
}

interface Issuer {
  readonly jwksFile: string;
  token(claims: JWTPayload, options?: { audience?: string; expiresIn?: string | number }): Promise<string>;
}

async function issuer(dir: string): Promise<Issuer> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwksFile = join(dir, 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }] }));
  const sign = (key: CryptoKey, claims: JWTPayload, audience: string, expiresIn: string | number) =>
    new SignJWT(claims).setProtectedHeader({ alg: 'ES256', kid: 'k1' }).setIssuer(ISSUER).setAudience(audience).setIssuedAt().setExpirationTime(expiresIn).sign(key);
  return { jwksFile, token: (claims, o = {}) => sign(privateKey, claims, o.audience ?? 'keyward', o.expiresIn ?? '10m') };
}

function serviceAccount(namespace: string, name: string, podUid = POD_UID): JWTPayload {
  return {
    sub: `system:serviceaccount:${namespace}:${name}`,
    'kubernetes.io': { namespace, serviceaccount: { name, uid: '11111111-2222-4333-8444-555555555555' }, pod: { name: `${name}-abc`, uid: podUid } },
  };
}

async function daemonWith(t: ExecutionContext, authorization: Record<string, unknown>, cgroup: string, dir = makeTempDir()): Promise<TestDaemon & { auditPath: string }> {
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({
    dir,
    overrides: { keys: KEYS, authorization, audit: { log: { path: auditPath, fsync: 'every-record' } } },
    daemonOptions: { procRoot: fixtureProc(dir, cgroup) },
  });
  t.teardown(() => d.dispose());
  return Object.assign(d, { auditPath });
}

const plaintext = Buffer.from('identity test');
const bearer = (token: string) => ({ metadata: { authorization: `Bearer ${token}` } });

test('rules on the container and pod the cgroup file names; a process outside them is denied', async (t) => {
  const podRule = { name: 'pod', match: { pod_uid: POD_UID.toUpperCase() }, keys: ['pod-*'], roles: ['key-user-encrypt'] };
  const containerRule = { name: 'container', match: { container_id: CONTAINER_ID, exe: '/*/node' }, keys: ['batch-*'], roles: ['key-user-encrypt'] };
  const inPod = await daemonWith(t, { rules: [podRule, containerRule] }, podCgroup(POD_UID));
  await inPod.client.encrypt({ keyId: 'pod-secrets', plaintext });
  await inPod.client.encrypt({ keyId: 'batch-jobs', plaintext });
  await rejectsWithCode(t, inPod.client.encrypt({ keyId: 'payments-db', plaintext }), status.PERMISSION_DENIED, 'permission denied');

  const onHost = await daemonWith(t, { rules: [podRule, containerRule] }, '0::/user.slice/user-0.slice/session-1.scope\n');
  await rejectsWithCode(t, onHost.client.encrypt({ keyId: 'pod-secrets', plaintext }), status.PERMISSION_DENIED, 'permission denied');
  await rejectsWithCode(t, onHost.client.encrypt({ keyId: 'batch-jobs', plaintext }), status.PERMISSION_DENIED, 'permission denied');

  const records = readFileSync(inPod.auditPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(
    records.find((r) => r['operation'] === 'Encrypt' && r['outcome'] === 'ok'),
    { pod_uid: POD_UID, container_id: CONTAINER_ID, actor: `uid:${process.getuid!()}@pod:${POD_UID}` },
  );
});

test('mesh sidecar mode: a verified service-account token is the identity; its namespace, account and claims match rules', async (t) => {
  const dir = makeTempDir();
  const iss = await issuer(dir);
  const d = await daemonWith(
    t,
    {
      bearer_token: { jwks_file: iss.jwksFile, issuer: ISSUER, audience: 'keyward' },
      rules: [
        { name: 'payments-api', match: { namespace: 'payments', service_account: 'api' }, keys: ['payments-*'], roles: ['key-user-encrypt', 'key-user-decrypt'] },
        { name: 'batch', match: { claims: { sub: 'system:serviceaccount:batch:*' } }, keys: ['batch-*'], roles: ['key-user-encrypt'] },
      ],
    },
    podCgroup(POD_UID),
    dir,
  );
  const payments = await iss.token(serviceAccount('payments', 'api'));
  const enc = await d.client.encrypt({ keyId: 'payments-db', plaintext }, bearer(payments));
  t.deepEqual(Buffer.from((await d.client.decrypt({ ciphertext: enc.ciphertext }, bearer(payments))).plaintext), plaintext);
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'batch-jobs', plaintext }, bearer(payments)), status.PERMISSION_DENIED, 'permission denied');
  await d.client.encrypt({ keyId: 'batch-jobs', plaintext }, bearer(await iss.token(serviceAccount('batch', 'nightly'))));
  // Without a token the caller is only this process's uid, which no rule names.
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'payments-db', plaintext }), status.PERMISSION_DENIED, 'permission denied');

  // Refused tokens: one code, one message.
  const refused = [
    await iss.token(serviceAccount('payments', 'api'), { audience: 'vault' }),
    await iss.token(serviceAccount('payments', 'api'), { expiresIn: Math.floor(Date.now() / 1000) - 600 }),
    `${payments.slice(0, -4)}AAAA`,
    'not-a-jwt',
  ];
  for (const token of refused) {
    await rejectsWithCode(t, d.client.encrypt({ keyId: 'payments-db', plaintext }, bearer(token)), status.UNAUTHENTICATED, 'invalid bearer token');
  }
  // A token of another pod, presented from this one, is not this pod's identity.
  await rejectsWithCode(
    t,
    d.client.encrypt({ keyId: 'payments-db', plaintext }, bearer(await iss.token(serviceAccount('payments', 'api', OTHER_POD_UID)))),
    status.UNAUTHENTICATED,
    'invalid bearer token',
  );

  const records = readFileSync(d.auditPath, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  t.like(
    records.find((r) => r['operation'] === 'Decrypt'),
    { actor: 'system:serviceaccount:payments:api', namespace: 'payments', service_account: 'api', pod_uid: POD_UID, outcome: 'ok' },
  );
  const podMismatch = records.filter((r) => r['outcome'] === 'UNAUTHENTICATED').at(-1);
  t.regex(String(podMismatch?.['reason']), new RegExp(`bearer token of pod ${OTHER_POD_UID} presented from pod ${POD_UID}`));
  // No token ever reaches the audit log.
  t.false(readFileSync(d.auditPath, 'utf8').includes(payments.split('.')[1]!));
});

test('bearer_token.required: a data-plane call without a token is UNAUTHENTICATED', async (t) => {
  const dir = makeTempDir();
  const iss = await issuer(dir);
  const d = await daemonWith(
    t,
    {
      bearer_token: { jwks_file: iss.jwksFile, issuer: ISSUER, audience: 'keyward', required: true },
      rules: [{ name: 'payments-api', match: { namespace: 'payments' }, keys: ['payments-*'], roles: ['key-user-encrypt'] }],
    },
    podCgroup(POD_UID),
    dir,
  );
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'payments-db', plaintext }), status.UNAUTHENTICATED, 'bearer token required');
  await d.client.encrypt({ keyId: 'payments-db', plaintext }, bearer(await iss.token(serviceAccount('payments', 'api'))));
});
