// Backend calls are child spans of the RPC that caused them: a Vault HTTP request and a
// PKCS#11 token operation each appear as a CLIENT span under the call's SERVER span, in
// the caller's trace, as the collector decodes them.
import test from 'ava';
import { createSoftHsmToken } from '../support/softhsm-token.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { startTestDaemon } from '../support/test-daemon.js';
import { startVaultTarget, vaultBackendEntry } from '../support/vault-server/backend-harness.js';

const CALLER_TRACE_ID = '0af7651916cd43dd8448eb211c80319c';
const metadata = { traceparent: `00-${CALLER_TRACE_ID}-b7ad6b7169203331-01` };

test('a Vault request is a CLIENT child of the Encrypt that needed a DEK', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const target = await startVaultTarget();
  const d = await startTestDaemon({
    overrides: {
      backends: { vault: vaultBackendEntry(target) },
      keys: [{ id: 'orders', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }],
      telemetry: { traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 200 } },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await target.close();
    await receiver.stop();
  });
  await d.client.encrypt({ keyId: 'orders', plaintext: Buffer.from('x') }, { metadata });
  const [server] = await receiver.store.waitForSpans((s) => s.name === 'keyward.Encrypt' && s.traceId === CALLER_TRACE_ID);
  const children = await receiver.store.waitForSpans((s) => s.parentSpanId === server!.spanId);
  const vault = children.find((s) => s.name === 'vault POST');
  t.truthy(vault, children.map((s) => s.name).join(', '));
  t.is(vault!.kind, 'CLIENT');
  t.is(vault!.traceId, CALLER_TRACE_ID);
  t.like(vault!.attributes, { 'keyward.backend': 'vault', 'keyward.key.id': 'orders', 'http.request.method': 'POST' });
  t.regex(String(vault!.attributes['url.path']), /^\/v1\/transit\/datakey\/plaintext\/orders$/);
});

test('a PKCS#11 operation is a CLIENT child of the Sign that ran it', async (t) => {
  const token = createSoftHsmToken('spans');
  const receiver = await OtlpHttpReceiver.start();
  const d = await startTestDaemon({
    overrides: {
      backends: { hsm: { type: 'pkcs11', module: token.module, token: token.label, pin: { file: token.pinFile }, key_prefix: 'spans', create_missing_keys: true } },
      keys: [{ id: 'signer', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'hsm' }],
      telemetry: {
        traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 200 },
        metrics: { protocol: 'http', endpoint: receiver.metricsUrl, export_interval_ms: 200 },
      },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
    token.cleanup();
  });
  await d.client.sign({ keyId: 'signer', input: { case: 'message', value: Buffer.from('m') } }, { metadata });
  const [server] = await receiver.store.waitForSpans((s) => s.name === 'keyward.Sign' && s.traceId === CALLER_TRACE_ID);
  const [child] = await receiver.store.waitForSpans((s) => s.parentSpanId === server!.spanId && s.name === 'pkcs11.operation');
  t.is(child!.kind, 'CLIENT');
  t.like(child!.attributes, { 'keyward.backend': 'hsm', 'keyward.key.id': 'signer', 'keyward.key.version': 1 });
  t.regex(String(child!.attributes['keyward.backend.operation']), /^sign with ecdsa-p256-sha256$/);
  const [latency] = await receiver.store.waitForMetrics((m) => m.name === 'keyward.backend.duration');
  t.true(latency!.dataPoints.some((p) => p.attributes['keyward.backend'] === 'hsm' && p.attributes['keyward.outcome'] === 'ok'), 'backend latency is a metric');
});
