// Call metrics: exported over OTLP (decoded by the test receiver) and scraped from the
// Prometheus endpoint; the rotation-overdue gauge against the policy §3.6 schedule.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { MeterProvider, PeriodicExportingMetricReader, InMemoryMetricExporter, AggregationTemporality } from '@opentelemetry/sdk-metrics';
import { CallMetrics } from '../../src/audit/call-metrics.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startTestDaemon } from '../support/test-daemon.js';

test('calls, latency and cache lookups reach the collector over OTLP and the Prometheus endpoint', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const d = await startTestDaemon({
    overrides: {
      telemetry: {
        metrics: { protocol: 'http', endpoint: receiver.metricsUrl, export_interval_ms: 200 },
        prometheus: { port },
      },
      cache: { encrypt: { max_messages: 1 } },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('m') });
  await d.client.decrypt({ ciphertext: enc.ciphertext });
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'nope', plaintext: Buffer.from('m') }), status.NOT_FOUND);
  await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('m2') }); // the spent DEK leaves the cache (max_messages 1)

  const calls = await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.calls' && m.dataPoints.length >= 3, 10_000);
  const points = calls.at(-1)!.dataPoints;
  const byLabel = (method: string, outcome: string) =>
    points.find((p) => p.attributes['rpc.method'] === method && p.attributes['keyward.outcome'] === outcome);
  t.true(Number(byLabel('Encrypt', 'ok')?.value) >= 1);
  t.is(byLabel('Decrypt', 'ok')?.value, 1);
  t.is(byLabel('Encrypt', 'NOT_FOUND')?.value, 1);
  t.is(byLabel('Encrypt', 'ok')?.attributes['keyward.key.id'], 'alpha');
  const durations = await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.duration', 5_000);
  t.is(durations.at(-1)!.unit, 'ms');
  const cache = await receiver.store.waitForMetrics((m) => m.name === 'keyward.dek_cache.lookups', 5_000);
  t.true(cache.at(-1)!.dataPoints.some((p) => p.attributes['keyward.cache.hit'] === true), 'the Decrypt hit the DEK the Encrypt cached');
  const ages = await receiver.store.waitForMetrics((m) => m.name === 'keyward.key.rotation_overdue', 5_000);
  t.is(ages.at(-1)!.dataPoints.find((p) => p.attributes['keyward.key.id'] === 'alpha')?.value, 0);

  const evictions = await receiver.store.waitForMetrics((m) => m.name === 'keyward.dek_cache.evictions', 5_000);
  t.true(evictions.at(-1)!.dataPoints.some((p) => p.attributes['keyward.cache'] === 'encrypt' && Number(p.value) >= 1), 'the spent DEK was counted');

  const scrape = await fetch(`http://127.0.0.1:${port}/metrics`);
  t.is(scrape.status, 200);
  const text = await scrape.text();
  t.regex(text, /keyward_rpc_calls_total\{[^}]*rpc_method="Encrypt"[^}]*\} 1/);
  t.regex(text, /keyward_key_primary_age\{[^}]*keyward_key_id="alpha"/);
});

test('a primary version older than its period plus grace is overdue; younger is not', async (t) => {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000 });
  const provider = new MeterProvider({ readers: [reader] });
  t.teardown(() => provider.shutdown());
  const day = 86_400_000;
  new CallMetrics(provider.getMeter('test'), () => [
    { keyId: 'kek-late', primaryCreatedAt: new Date(Date.now() - 373 * day), rotationPeriodDays: 365, overdueGraceDays: 7 },
    { keyId: 'kek-in-grace', primaryCreatedAt: new Date(Date.now() - 370 * day), rotationPeriodDays: 365, overdueGraceDays: 7 },
    { keyId: 'jwt-late', primaryCreatedAt: new Date(Date.now() - 94 * day), rotationPeriodDays: 90, overdueGraceDays: 3 },
  ]);
  await reader.forceFlush();
  const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
  const overdue = metrics.find((m) => m.descriptor.name === 'keyward.key.rotation_overdue')!;
  const value = (keyId: string) => overdue.dataPoints.find((p) => p.attributes['keyward.key.id'] === keyId)?.value;
  t.is(value('kek-late'), 1);
  t.is(value('kek-in-grace'), 0);
  t.is(value('jwt-late'), 1);
});
