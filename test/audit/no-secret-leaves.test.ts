// No secret ever leaves: every RPC runs with known plaintext, associated data, key bytes,
// escrow shares and the escrow master key, and every exported span and metric (the OTLP bytes as received), every log line
// (at debug level) and every audit record is scanned for them — raw, hex, base64 and
// base64url. Zero hits.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Logger } from '../../src/core/logger.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { DEFAULT_TEST_KEYS, makeTempDir, startTestDaemon } from '../support/test-daemon.js';

const PLAINTEXT = Buffer.from('PLAINTEXT:4929-0000-1111-2222:never-leaves');
const AAD = Buffer.from('AAD:tenant-7788:never-leaves');
const MAC_DATA = Buffer.from('MACDATA:webhook-body-never-leaves');

/** A logger that keeps every line as pino would write it (JSON of bindings, object, message). */
function recordingLogger(lines: string[], bindings: Record<string, unknown> = {}): Logger {
  const write = (level: string) => (objOrMsg: object | string, msg?: string) => {
    const fields = typeof objOrMsg === 'string' ? { msg: objOrMsg } : { ...objOrMsg, msg };
    lines.push(JSON.stringify({ level, ...bindings, ...fields }, (_k, v: unknown) => (v instanceof Error ? `${v.name}: ${v.message} ${String(v.cause)}` : v)));
  };
  return {
    debug: write('debug'),
    info: write('info'),
    warn: write('warn'),
    error: write('error'),
    child: (more) => recordingLogger(lines, { ...bindings, ...more }),
  };
}

function forms(secret: Buffer): Buffer[] {
  return [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64')), Buffer.from(secret.toString('base64url'))];
}

test('every RPC: no plaintext, associated data, key bytes, escrow share or escrow master key in spans, metrics, logs or audit records', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const dir = makeTempDir();
  const auditPath = join(dir, 'audit.jsonl');
  const lines: string[] = [];
  const escrowMasterKey = randomBytes(32);
  writeFileSync(join(dir, 'escrow-master.key'), escrowMasterKey, { mode: 0o600 });
  const d = await startTestDaemon({
    dir,
    logger: recordingLogger(lines),
    overrides: {
      log: { level: 'debug' },
      keys: [...DEFAULT_TEST_KEYS, { id: 'p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'local' }],
      audit: { log: { path: auditPath, fsync: 'never' } },
      escrow: { master_key_file: join(dir, 'escrow-master.key') },
      telemetry: {
        traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 100 },
        metrics: { protocol: 'http', endpoint: receiver.metricsUrl, export_interval_ms: 100 },
      },
    },
  });
  t.teardown(async () => {
    await receiver.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  const c = d.client;
  const enc = await c.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT, associatedData: AAD });
  await c.decrypt({ ciphertext: enc.ciphertext, associatedData: AAD });
  await c.decrypt({ ciphertext: enc.ciphertext, associatedData: PLAINTEXT }).catch(() => undefined);
  const moved = await c.reEncrypt({ ciphertext: enc.ciphertext, associatedData: AAD, destinationKeyId: 'beta' });
  await c.decrypt({ ciphertext: moved.ciphertext, associatedData: AAD });
  const dk = await c.generateDataKey({ keyId: 'gamma', associatedData: AAD });
  const batch = await c.encryptBatch({ items: [{ keyId: 'alpha', plaintext: PLAINTEXT, associatedData: AAD }, { keyId: 'nope', plaintext: PLAINTEXT }] });
  const sealed = batch.results[0]!.result.case === 'response' ? batch.results[0]!.result.value.ciphertext : new Uint8Array();
  await c.decryptBatch({ items: [{ ciphertext: sealed, associatedData: AAD }, { ciphertext: PLAINTEXT }] });
  const signed = await c.sign({ keyId: 'p256', input: { case: 'message', value: PLAINTEXT } });
  await c.verify({ keyId: 'p256', input: { case: 'message', value: PLAINTEXT }, signature: signed.signature });
  await c.sign({ keyId: 'signer', input: { case: 'message', value: PLAINTEXT } });
  const mac = await c.computeMac({ keyId: 'hmac', data: MAC_DATA });
  await c.verifyMac({ keyId: 'hmac', data: MAC_DATA, mac: mac.mac });
  await c.getPublicKey({ keyId: 'p256' });
  await c.signJwt({ keyId: 'signer', claimsJson: JSON.stringify({ sub: 'svc' }) });
  await c.encrypt({ keyId: 'signer', plaintext: PLAINTEXT }).catch(() => undefined);
  await d.admin.listKeys({});
  await d.admin.describeKey({ keyId: 'alpha' });
  const escrow = await d.admin.splitKeyEscrow({ keyId: 'alpha', shares: 3, threshold: 2 });
  const shares = escrow.shares.map((s) => s.share);
  await d.admin.combineKeyEscrow({ shares: shares.slice(1), verifyOnly: true });
  await d.admin.combineKeyEscrow({ shares: [shares[0]!, Buffer.from(shares[1]!).fill(7, 60)] }).catch(() => undefined);
  await d.admin.splitKeyEscrow({ keyId: 'p256', shares: 2, threshold: 2 });
  await d.admin.rotateKey({ keyId: 'alpha' });
  await receiver.store.waitForSpans((s) => s.name === 'keyward.RotateKey');
  await receiver.store.waitForSpans((s) => s.name === 'keyward.lifecycle.escrow.combined');
  await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.calls');
  const rootKey = readFileSync(join(dir, 'keystore', 'root.key'));
  await d.stop(); // flushes spans, metrics and the audit log

  const secrets: Record<string, Buffer> = {
    plaintext: PLAINTEXT,
    associated_data: AAD,
    mac_data: MAC_DATA,
    data_key: Buffer.from(dk.plaintextKey),
    root_key: rootKey,
    escrow_master_key: escrowMasterKey,
    ...Object.fromEntries(shares.map((share, i) => [`escrow_share_${i + 1}`, Buffer.from(share)])),
  };
  const places: Array<[string, Buffer]> = [
    ...receiver.store.requests.map((r, i): [string, Buffer] => [`otlp ${r.signal} #${i}`, Buffer.from(r.body)]),
    ...lines.map((l, i): [string, Buffer] => [`log line ${i}`, Buffer.from(l)]),
    ['audit log', readFileSync(auditPath)],
  ];
  t.true(receiver.store.requests.some((r) => r.signal === 'traces'), 'spans were exported');
  t.true(receiver.store.requests.some((r) => r.signal === 'metrics'), 'metrics were exported');
  t.true(lines.length > 5, 'logs were written');
  const hits: string[] = [];
  for (const [where, bytes] of places) {
    for (const [name, secret] of Object.entries(secrets)) {
      for (const form of forms(secret)) if (bytes.includes(form)) hits.push(`${name} in ${where}`);
    }
  }
  t.deepEqual(hits, []);
});
