// Offline escrow recovery (`keyward keys escrow-recover`) after the total loss of a host:
// host A's keys are escrowed and A is gone; on a new host with an empty keystore (its own
// root key) and the same escrow master key, the shares go in before the daemon's first
// start, which then finds the keys instead of generating version 1. Refused while a
// daemon runs, for too few shares, for a key the configuration does not declare, for a
// key that cannot leave its backend, and when escrow is not configured.
import { InstanceLock } from '../../src/daemon/instance-lock.js';
import test, { type ExecutionContext } from 'ava';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { createKeyAdminClient, createKeyServiceClient, type KeyAdminClient } from '../../src/client/keyward-client.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { silentLogger } from '../../src/core/logger.js';
import { recoverEscrowOffline } from '../../src/daemon/offline-escrow-recovery.js';
import { runKeyward, startServing, writeConfig } from '../support/keyward-process.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { DEFAULT_TEST_KEYS, makeTempDir, startTestDaemon } from '../support/test-daemon.js';

const ACTOR = `uid:${process.getuid!()}`;
const PLAINTEXT = Buffer.from('sealed on host A, before it was lost');
const MESSAGE = Buffer.from('signed on host A');

/** One escrow's share files, share i + 1 at index i. */
interface Escrow {
  readonly escrowId: string;
  readonly files: readonly string[];
}

/** What survives host A: its ciphertext, its signature, and the share files of its escrows. */
interface LostHost {
  readonly masterKeyFile: string;
  readonly ciphertext: Uint8Array;
  readonly signature: Uint8Array;
  readonly alpha: Escrow;
  readonly signer: Escrow;
  readonly betaV1: Escrow;
  readonly betaV2: Escrow;
  readonly gamma: Escrow;
}

const root = makeTempDir('keyward-recover-');
let lost: LostHost;

async function split(admin: KeyAdminClient, keyId: string, version: number, shares: number, threshold: number): Promise<Escrow> {
  const res = await admin.splitKeyEscrow({ keyId, version, shares, threshold });
  const files = res.shares.map((s) => {
    const file = join(root, `${keyId}-v${version}-share-${s.index}.kwshare`);
    writeFileSync(file, s.share, { mode: 0o600 });
    return file;
  });
  return { escrowId: res.escrowId, files };
}

test.before(async () => {
  const masterKeyFile = join(root, 'escrow-master.key');
  writeFileSync(masterKeyFile, randomBytes(32), { mode: 0o600 });
  const dir = join(root, 'host-a');
  mkdirSync(dir);
  const a = await startTestDaemon({ dir, overrides: { escrow: { master_key_file: masterKeyFile } } });
  try {
    const { ciphertext } = await a.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT });
    const { signature } = await a.client.sign({ keyId: 'signer', input: { case: 'message', value: MESSAGE } });
    const alpha = await split(a.admin, 'alpha', 1, 5, 3);
    const signer = await split(a.admin, 'signer', 1, 3, 2);
    await a.admin.rotateKey({ keyId: 'beta' });
    const betaV1 = await split(a.admin, 'beta', 1, 3, 2);
    const betaV2 = await split(a.admin, 'beta', 2, 3, 2);
    const gamma = await split(a.admin, 'gamma', 1, 2, 2);
    lost = { masterKeyFile, ciphertext, signature, alpha, signer, betaV1, betaV2, gamma };
  } finally {
    await a.stop();
  }
  rmSync(dir, { recursive: true, force: true });
});

test.after.always(() => rmSync(root, { recursive: true, force: true }));

interface NewHost {
  readonly dir: string;
  readonly configFile: string;
  readonly auditPath: string;
  readonly overrides: Record<string, unknown>;
}

/** A new host: an empty directory and the configuration of host A (with `overrides`); `escrow: false` leaves escrow out. */
function newHost(t: ExecutionContext, { escrow = true, ...overrides }: { escrow?: boolean } & Record<string, unknown> = {}): NewHost {
  const dir = makeTempDir('keyward-new-host-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const auditPath = join(dir, 'audit', 'audit.jsonl');
  const all = { ...(escrow ? { escrow: { master_key_file: lost.masterKeyFile } } : {}), audit: { log: { path: auditPath } }, ...overrides };
  return { dir, configFile: writeConfig(dir, all), auditPath, overrides: all };
}

const pick = (escrow: Escrow, ...indexes: number[]) => indexes.map((i) => escrow.files[i]!);
const recoverArgs = (host: NewHost, files: readonly string[]) => ['keys', 'escrow-recover', '--config', host.configFile, ...files];
/** In this process, for the cases whose point is not the command line. */
const recoverHere = (host: NewHost, files: readonly string[]) =>
  recoverEscrowOffline({ configFile: host.configFile, shares: files.map((f) => readFileSync(f)), logger: () => silentLogger });
const sha256 = (file: string) => createHash('sha256').update(readFileSync(file)).digest('hex');
const records = (path: string) =>
  readFileSync(path, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>);

/** The file once it stopped changing (the daemon writes records on a later turn of its loop). */
async function settled(path: string): Promise<Buffer> {
  let last = readFileSync(path);
  for (;;) {
    await delay(100);
    const now = readFileSync(path);
    if (now.equals(last)) return now;
    last = now;
  }
}

test('disaster: shares recovered offline into a new empty keystore; the daemon then starts with them, decrypts and verifies what host A made, and its audit log verifies with the offline record', async (t) => {
  const b = newHost(t);
  const alpha = await runKeyward(recoverArgs(b, pick(lost.alpha, 0, 2, 4)));
  t.is(alpha.code, 0, alpha.stderr);
  t.deepEqual(JSON.parse(alpha.stdout), { escrowId: lost.alpha.escrowId, keyId: 'alpha', version: 1, result: 'imported', primaryVersion: 1 });
  const signer = await runKeyward(recoverArgs(b, pick(lost.signer, 2, 0)));
  t.is(signer.code, 0, signer.stderr);
  t.is(statSync(join(b.dir, 'keystore', 'keys', 'alpha.json')).mode & 0o777, 0o600);

  const daemon = await startServing(b.configFile);
  const client = createKeyServiceClient(join(b.dir, 'keyward.sock'));
  const admin = createKeyAdminClient(join(b.dir, 'admin.sock'));
  try {
    t.deepEqual(Buffer.from((await client.decrypt({ ciphertext: lost.ciphertext })).plaintext), PLAINTEXT);
    const { key } = await admin.describeKey({ keyId: 'alpha' });
    t.is(key!.primaryVersion, 1);
    t.deepEqual(key!.versions.map((v) => v.version), [1], 'the daemon generated no version of its own');
    const verified = await client.verify({ keyId: 'signer', keyVersion: 1, input: { case: 'message', value: MESSAGE }, signature: lost.signature });
    t.true(verified.valid);
  } finally {
    client.close();
    admin.close();
    daemon.child.kill('SIGTERM');
  }
  t.is(await daemon.exited, 0, daemon.output());

  const check = await runKeyward(['audit', 'verify', b.auditPath]);
  t.is(check.code, 0, check.stdout + check.stderr);
  t.regex(check.stdout, /^ok: \d+ records in 1 files\n$/);
  const all = records(b.auditPath);
  const combined = all.filter((r) => r['event'] === 'escrow.combined');
  t.deepEqual(combined[0], {
    ...combined[0],
    key_id: 'alpha',
    key_version: 1,
    backend: 'local',
    escrow_id: lost.alpha.escrowId,
    shares_used: 3,
    result: 'imported',
    share_fingerprints: pick(lost.alpha, 0, 2, 4).map(sha256).join(','),
    actor: ACTOR,
    mode: 'offline',
  });
  t.like(combined[1], { key_id: 'signer', key_version: 1, escrow_id: lost.signer.escrowId, result: 'imported', actor: ACTOR, mode: 'offline' });
  t.deepEqual(all.filter((r) => r['event'] === 'key.generated').map((r) => r['key_id']), ['beta', 'gamma', 'hmac'], 'recovered keys are not generated');
  const file = readFileSync(b.auditPath);
  const leaks = [...lost.alpha.files, ...lost.signer.files]
    .map((f) => readFileSync(f))
    .flatMap((share) => [share, Buffer.from(share.toString('hex')), Buffer.from(share.toString('base64'))])
    .filter((form) => file.includes(form));
  t.is(leaks.length, 0, 'no share bytes in the audit log');
});

test('versions recovered into a key that recovery created: the highest is primary, whichever order they come in; a repeat only verifies; the span of each recovery is exported before it returns', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  t.teardown(() => receiver.stop());
  const up = newHost(t, { telemetry: { traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 5_000 } } });
  t.like(await recoverHere(up, pick(lost.betaV1, 0, 1)), { version: 1, result: 'imported', primaryVersion: 1 });
  const spans = receiver.store.spans.filter((s) => s.name === 'keyward.lifecycle.escrow.combined');
  t.like(spans.map((s) => s.attributes), [{ key_id: 'beta', key_version: 1, escrow_id: lost.betaV1.escrowId, result: 'imported', actor: ACTOR, mode: 'offline' }]);
  t.like(await recoverHere(up, pick(lost.betaV2, 2, 0)), { version: 2, result: 'imported', primaryVersion: 2 });
  t.like(await recoverHere(up, pick(lost.betaV1, 1, 2)), { version: 1, result: 'verified', primaryVersion: 2 });
  const down = newHost(t);
  t.like(await recoverHere(down, pick(lost.betaV2, 0, 1)), { version: 2, result: 'imported', primaryVersion: 2 });
  t.like(await recoverHere(down, pick(lost.betaV1, 0, 1)), { version: 1, result: 'imported', primaryVersion: 2 });

  const d = await startTestDaemon({ dir: up.dir, overrides: up.overrides });
  t.teardown(() => d.stop());
  const { key } = await d.admin.describeKey({ keyId: 'beta' });
  t.is(key!.primaryVersion, 2);
  t.deepEqual(key!.versions.map((v) => v.version), [1, 2]);
  t.is((await d.client.encrypt({ keyId: 'beta', plaintext: PLAINTEXT })).keyVersion, 2);
});

test('refused while the daemon of the configuration runs: already-exists, nothing written, its audit log unchanged', async (t) => {
  const host = newHost(t);
  const d = await startTestDaemon({ dir: host.dir, overrides: host.overrides });
  t.teardown(() => d.stop());
  await d.admin.listKeys({});
  const auditBefore = await settled(host.auditPath);
  const keyFile = join(host.dir, 'keystore', 'keys', 'beta.json');
  const keyBefore = readFileSync(keyFile);

  const refused = await runKeyward(recoverArgs(host, pick(lost.betaV2, 0, 1)));
  t.is(refused.code, 1);
  t.is(refused.stderr, `keyward: already-exists: the daemon of ${host.configFile} is running (${d.socketPath} accepts connections): stop it before recovering keys offline\n`);
  t.deepEqual(readFileSync(keyFile), keyBefore);
  t.deepEqual(readFileSync(host.auditPath), auditBefore);
});

test('refused while another keyward process holds the instance lock (e.g. a daemon still opening its backends): already-exists, nothing written', async (t) => {
  const host = newHost(t);
  const lock = await InstanceLock.acquire(join(host.dir, 'keyward.sock'));
  t.teardown(() => lock.release());
  const refused = await runKeyward(recoverArgs(host, pick(lost.alpha, 0, 2, 4)));
  t.is(refused.code, 1);
  t.is(refused.stderr, `keyward: already-exists: another keyward process (a daemon, or keys escrow-recover) holds the lock of ${join(host.dir, 'keyward.sock')}; is keyward already running?\n`);
  t.false(existsSync(join(host.dir, 'keystore')));
});

test('fewer than K shares: invalid-argument, and no keystore is created', async (t) => {
  const host = newHost(t);
  const tooFew = await runKeyward(recoverArgs(host, pick(lost.alpha, 0, 3)));
  t.is(tooFew.code, 1);
  t.is(tooFew.stderr, `keyward: invalid-argument: escrow ${lost.alpha.escrowId} needs 3 of its 5 shares but got 2\n`);
  t.false(existsSync(join(host.dir, 'keystore')));
});

test('a key the configuration does not declare: failed-precondition, no key file', async (t) => {
  const host = newHost(t, { keys: DEFAULT_TEST_KEYS.filter((k) => k.id !== 'gamma') });
  const err = await t.throwsAsync(recoverHere(host, lost.gamma.files));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.is(err!.message, 'key "gamma" is not declared in the configuration: declare it (id, backend, and the purpose and algorithm of the escrow) and recover again');
  t.false(existsSync(join(host.dir, 'keystore')));
});

test('a key declared on a Vault backend: the not-extractable failed-precondition, and the backend is not contacted', async (t) => {
  const host = newHost(t, {
    backends: {
      local: { type: 'local', keystore_dir: join(root, 'unused') },
      vault: { type: 'vault', address: 'http://127.0.0.1:9', auth: { method: 'token', token: { env: 'KEYWARD_TEST_NO_SUCH_TOKEN' } } },
    },
    keys: DEFAULT_TEST_KEYS.map((k) => (k.id === 'gamma' ? { ...k, backend: 'vault' } : k)),
  });
  const err = await t.throwsAsync(recoverHere(host, lost.gamma.files));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.regex(err!.message, /^key "gamma" is held by backend "vault" \(vault\) where key material is not extractable/);
});

test('escrow not configured: failed-precondition', async (t) => {
  const host = newHost(t, { escrow: false });
  const err = await t.throwsAsync(recoverHere(host, pick(lost.alpha, 0, 1, 2)));
  t.true(isKeywardError(err, 'failed-precondition'));
  t.is(err!.message, 'key escrow is not configured on this daemon (set escrow.master_key_file)');
  t.false(existsSync(join(host.dir, 'keystore')));
});
