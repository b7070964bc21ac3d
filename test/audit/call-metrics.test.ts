// Call metrics: exported over OTLP (decoded by the test receiver) and scraped from the
// Prometheus endpoint; the rotation-overdue gauge against the policy §3.6 schedule; the
// latency histogram keyward aggregates itself (buckets, sum, count, min, max, cumulative,
// seen by both kinds of reader), the counters' attribute sets and their cardinality bound.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import type { Attributes } from '@opentelemetry/api';
import {
  MeterProvider,
  PeriodicExportingMetricReader,
  InMemoryMetricExporter,
  AggregationTemporality,
  DataPointType,
  type DataPoint,
  type Histogram,
  type MetricData,
  type MetricProducer,
} from '@opentelemetry/sdk-metrics';
import { createServer } from 'node:net';
import { CallDurationHistogram } from '../../src/audit/call-duration-histogram.js';
import { CALL_DURATION } from '../../src/audit/call-duration-metric.js';
import { CallMetrics } from '../../src/audit/call-metrics.js';
import { CounterTally } from '../../src/audit/counter-tally.js';
import { createMeterProvider } from '../../src/audit/metric-export.js';
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
  t.regex(text, /keyward_rpc_duration_count\{rpc_method="Encrypt",keyward_outcome="ok"[^}]*\} [1-9]/);
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
  ], { duration: new CallDurationHistogram('test') });
  await reader.forceFlush();
  const metrics = exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics));
  const overdue = metrics.find((m) => m.descriptor.name === 'keyward.key.rotation_overdue')!;
  const value = (keyId: string) => overdue.dataPoints.find((p) => p.attributes['keyward.key.id'] === keyId)?.value;
  t.is(value('kek-late'), 1);
  t.is(value('kek-in-grace'), 0);
  t.is(value('jwt-late'), 1);
});

/** A clock the test sets: each call starts at 0, so a duration is exactly the value set before end(). */
class TestClock {
  ms = 0;
  readonly now = (): number => this.ms;
}

/** An OTLP-style reader (periodic, cumulative) over an in-memory exporter, given `producers`. */
function inMemoryMetrics(producers: MetricProducer[]) {
  const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE);
  const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 60_000, metricProducers: producers });
  const provider = new MeterProvider({ readers: [reader] });
  /** Every metric of the latest export, with the scope it came in. */
  const collect = async () => {
    exporter.reset();
    await reader.forceFlush();
    return exporter.getMetrics().flatMap((rm) => rm.scopeMetrics.flatMap((sm) => sm.metrics.map((metric) => ({ metric, scope: sm.scope }))));
  };
  return { provider, meter: provider.getMeter('keyward', '1.2.3'), collect };
}

function metricNamed(metrics: readonly { metric: MetricData }[], name: string): MetricData {
  const found = metrics.find((m) => m.metric.descriptor.name === name);
  if (found === undefined) throw new Error(`no ${name} among ${metrics.map((m) => m.metric.descriptor.name).join(', ')}`);
  return found.metric;
}

function pointWith<T>(points: readonly DataPoint<T>[], attributes: Attributes): DataPoint<T> | undefined {
  const wanted = JSON.stringify(Object.entries(attributes).sort());
  return points.find((p) => JSON.stringify(Object.entries(p.attributes).sort()) === wanted);
}

function histogramPoint(metric: MetricData, attributes: Attributes): DataPoint<Histogram> | undefined {
  if (metric.dataPointType !== DataPointType.HISTOGRAM) throw new Error(`${metric.descriptor.name} is not a histogram`);
  return pointWith(metric.dataPoints, attributes);
}

function sumValue(metric: MetricData, attributes: Attributes): number | undefined {
  if (metric.dataPointType !== DataPointType.SUM) throw new Error(`${metric.descriptor.name} is not a sum`);
  return pointWith(metric.dataPoints, attributes)?.value;
}

/** One call through the observer, `ms` long by the test clock. */
function call(metrics: CallMetrics, clock: TestClock, method: string, ms: number, outcome: Parameters<ReturnType<CallMetrics['start']>['end']>[0]): void {
  clock.ms = 0;
  const observed = metrics.start(method, () => undefined);
  clock.ms = ms;
  observed.end(outcome);
}

const OK = { code: 0, codeName: 'OK' } as const;
const BOUNDS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000];

test('keyward.rpc.duration: buckets, sum, count, min and max of known durations, cumulative across collections', async (t) => {
  const duration = new CallDurationHistogram('1.2.3');
  const { provider, meter, collect } = inMemoryMetrics([duration]);
  t.teardown(() => provider.shutdown());
  const clock = new TestClock();
  const metrics = new CallMetrics(meter, () => [], { duration, now: clock.now });
  // A boundary is its bucket's inclusive upper bound; above the last one is the +Inf bucket.
  for (const ms of [0.05, 0.1, 0.2, 0.25, 0.7, 1000, 1500]) call(metrics, clock, 'Encrypt', ms, { ...OK, keyId: 'alpha' });
  call(metrics, clock, 'Encrypt', 3, { code: 5, codeName: 'NOT_FOUND', keyId: 'nope' });

  const first = await collect();
  const histogram = metricNamed(first, 'keyward.rpc.duration');
  t.like(histogram.descriptor, { name: 'keyward.rpc.duration', description: 'Call latency inside the daemon', unit: 'ms' });
  t.is(histogram.aggregationTemporality, AggregationTemporality.CUMULATIVE);
  t.deepEqual(first.find((m) => m.metric === histogram)?.scope, { name: 'keyward', version: '1.2.3' });
  t.is(histogram.dataPoints.length, 2);
  const ok = histogramPoint(histogram, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok' });
  t.deepEqual(ok?.value, {
    buckets: { boundaries: BOUNDS, counts: [2, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1] },
    sum: 0.05 + 0.1 + 0.2 + 0.25 + 0.7 + 1000 + 1500,
    count: 7,
    min: 0.05,
    max: 1500,
  });
  const notFound = histogramPoint(histogram, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'NOT_FOUND' });
  t.deepEqual(notFound?.value, { buckets: { boundaries: BOUNDS, counts: [0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0] }, sum: 3, count: 1, min: 3, max: 3 });

  call(metrics, clock, 'Encrypt', 0.01, { ...OK, keyId: 'alpha' });
  const second = histogramPoint(metricNamed(await collect(), 'keyward.rpc.duration'), { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok' });
  t.is(second?.value.count, 8, 'cumulative: the second collection still holds the first calls');
  t.is(second?.value.min, 0.01);
  t.deepEqual(second?.value.buckets.counts, [3, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1]);
  t.deepEqual(second?.startTime, ok?.startTime, 'a series keeps its start time');
  t.deepEqual(ok?.value.buckets.counts, [2, 2, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 1], 'an exported point is a copy, not the live series');
});

test("keyward.rpc.duration as keyward aggregates it is what the SDK's histogram exports for the same durations", async (t) => {
  const clock = new TestClock();
  const duration = new CallDurationHistogram('1.2.3');
  const ours = inMemoryMetrics([duration]);
  const sdks = inMemoryMetrics([]);
  t.teardown(() => Promise.all([ours.provider.shutdown(), sdks.provider.shutdown()]));
  const viaProducer = new CallMetrics(ours.meter, () => [], { duration, now: clock.now });
  // The SDK's own histogram, as the metric was recorded before keyward aggregated it.
  const sdkHistogram = sdks.meter.createHistogram(CALL_DURATION.name, {
    description: CALL_DURATION.description,
    unit: CALL_DURATION.unit,
    advice: { explicitBucketBoundaries: [...CALL_DURATION.boundariesMs] },
  });
  const calls: [string, number, { code: number; codeName: string }][] = [
    ['Encrypt', 0.05, OK], ['Encrypt', 0.1, OK], ['Encrypt', 0.3, OK], ['Encrypt', 2.5, OK], ['Encrypt', 4000, OK],
    ['Decrypt', 0.7, OK], ['Decrypt', 12, { code: 5, codeName: 'NOT_FOUND' }], ['Sign', 0, OK],
  ];
  for (const [method, ms, outcome] of calls) {
    call(viaProducer, clock, method, ms, outcome);
    sdkHistogram.record(ms, { 'rpc.method': method, 'keyward.outcome': outcome.code === 0 ? 'ok' : outcome.codeName });
  }
  const [mine, theirs] = [metricNamed(await ours.collect(), 'keyward.rpc.duration'), metricNamed(await sdks.collect(), 'keyward.rpc.duration')];
  t.like(mine.descriptor, { name: theirs.descriptor.name, description: theirs.descriptor.description, unit: theirs.descriptor.unit, valueType: theirs.descriptor.valueType });
  t.is(mine.aggregationTemporality, theirs.aggregationTemporality);
  t.is(mine.dataPointType, theirs.dataPointType);
  const comparable = (m: MetricData) =>
    m.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value })).sort((a, b) => JSON.stringify(a.attributes).localeCompare(JSON.stringify(b.attributes)));
  t.deepEqual(comparable(mine), comparable(theirs));
});

test('keyward.rpc.duration is not exported before a call, and drops negative or NaN durations', async (t) => {
  const duration = new CallDurationHistogram('1.2.3');
  const { provider, collect } = inMemoryMetrics([duration]);
  t.teardown(() => provider.shutdown());
  t.false((await collect()).some((m) => m.metric.descriptor.name === 'keyward.rpc.duration'));
  duration.record('Encrypt', 'ok', -1);
  duration.record('Encrypt', 'ok', Number.NaN);
  t.false((await collect()).some((m) => m.metric.descriptor.name === 'keyward.rpc.duration'));
  duration.record('Encrypt', 'ok', 0);
  t.is(histogramPoint(metricNamed(await collect(), 'keyward.rpc.duration'), { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok' })?.value.count, 1);
});

test('calls, cache lookups and refusals are counted by their attribute sets', async (t) => {
  const duration = new CallDurationHistogram('1.2.3');
  const { provider, meter, collect } = inMemoryMetrics([duration]);
  t.teardown(() => provider.shutdown());
  const clock = new TestClock();
  const metrics = new CallMetrics(meter, () => [], { duration, now: clock.now });
  for (let i = 0; i < 3; i++) call(metrics, clock, 'Encrypt', 0.1, { ...OK, keyId: 'alpha', cacheHit: true });
  call(metrics, clock, 'Encrypt', 0.1, { ...OK, keyId: 'alpha', cacheHit: false });
  call(metrics, clock, 'Encrypt', 0.1, { ...OK, keyId: 'beta' });
  call(metrics, clock, 'Decrypt', 0.1, { code: 3, codeName: 'INVALID_ARGUMENT' });
  call(metrics, clock, 'Encrypt', 0.1, { code: 7, codeName: 'PERMISSION_DENIED', keyId: 'alpha' });
  call(metrics, clock, 'Decrypt', 0.1, { code: 16, codeName: 'UNAUTHENTICATED' });
  call(metrics, clock, 'BatchEncrypt', 0.1, { ...OK, keyId: 'alpha', deniedItems: 2 });
  call(metrics, clock, 'BatchEncrypt', 0.1, { ...OK, keyId: 'alpha', deniedItems: 3 });

  const collected = await collect();
  const calls = metricNamed(collected, 'keyward.rpc.calls');
  t.is(calls.dataPoints.length, 6);
  t.is(sumValue(calls, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok', 'keyward.key.id': 'alpha' }), 4);
  t.is(sumValue(calls, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok', 'keyward.key.id': 'beta' }), 1);
  t.is(sumValue(calls, { 'rpc.method': 'Decrypt', 'keyward.outcome': 'INVALID_ARGUMENT' }), 1, 'no key: no keyward.key.id attribute');
  t.is(sumValue(calls, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'PERMISSION_DENIED', 'keyward.key.id': 'alpha' }), 1);
  t.is(sumValue(calls, { 'rpc.method': 'BatchEncrypt', 'keyward.outcome': 'ok', 'keyward.key.id': 'alpha' }), 2);
  const cache = metricNamed(collected, 'keyward.dek_cache.lookups');
  t.is(cache.dataPoints.length, 2);
  t.is(sumValue(cache, { 'rpc.method': 'Encrypt', 'keyward.cache.hit': true }), 3);
  t.is(sumValue(cache, { 'rpc.method': 'Encrypt', 'keyward.cache.hit': false }), 1);
  const denied = metricNamed(collected, 'keyward.rpc.denied');
  t.is(denied.dataPoints.length, 3);
  t.is(sumValue(denied, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'PERMISSION_DENIED' }), 1);
  t.is(sumValue(denied, { 'rpc.method': 'Decrypt', 'keyward.outcome': 'UNAUTHENTICATED' }), 1);
  t.is(sumValue(denied, { 'rpc.method': 'BatchEncrypt', 'keyward.outcome': 'PERMISSION_DENIED' }), 5, 'refused batch items');
});

test('an observed call runs the call and hands back its result', async (t) => {
  const metrics = new CallMetrics(new MeterProvider().getMeter('keyward'), () => [], { duration: new CallDurationHistogram('1.2.3') });
  const observed = metrics.start('Encrypt', () => undefined);
  t.is(await observed.run(async () => 42), 42);
  await t.throwsAsync(observed.run(async () => Promise.reject(new Error('refused'))), { message: 'refused' });
});

test('past the bound, new attribute sets are counted under one overflow set; known sets still count apart', async (t) => {
  const { provider, meter, collect } = inMemoryMetrics([]);
  t.teardown(() => provider.shutdown());
  const tally = new CounterTally(meter, 'test.tally', 'bounded', (a: string, b: string, c: string) => ({ a, b, c }), 2);
  tally.increment('x', 'y', '1');
  tally.increment('x', 'y', '2');
  tally.increment('x', 'y', '3');
  tally.increment('x', 'z', '1', 4);
  tally.increment('x', 'y', '1');
  const points = metricNamed(await collect(), 'test.tally');
  t.is(points.dataPoints.length, 3);
  t.is(sumValue(points, { a: 'x', b: 'y', c: '1' }), 2);
  t.is(sumValue(points, { a: 'x', b: 'y', c: '2' }), 1);
  t.is(sumValue(points, { 'otel.metric.overflow': true }), 5);
});

test('by default counters and the latency histogram share one bound: 2,000 points with the overflow set', async (t) => {
  const { provider, meter, collect } = inMemoryMetrics([]);
  t.teardown(() => provider.shutdown());
  const tally = new CounterTally(meter, 'test.tally', 'default bound', (a: string, b: string, c: string) => ({ a, b, c }));
  for (let i = 0; i < 2_100; i++) tally.increment('m', 'ok', `k${i}`);
  t.is(metricNamed(await collect(), 'test.tally').dataPoints.length, 2_000);
});

test('the latency histogram has the same bound: past it, new (method, outcome) sets share the overflow series', async (t) => {
  const duration = new CallDurationHistogram('1.2.3', 2);
  const { provider, collect } = inMemoryMetrics([duration]);
  t.teardown(() => provider.shutdown());
  duration.record('Encrypt', 'ok', 1);
  duration.record('Decrypt', 'ok', 2);
  duration.record('Sign', 'ok', 3);
  duration.record('Verify', 'INTERNAL', 30);
  duration.record('Encrypt', 'ok', 4);
  const histogram = metricNamed(await collect(), 'keyward.rpc.duration');
  t.is(histogram.dataPoints.length, 3);
  t.is(histogramPoint(histogram, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok' })?.value.count, 2);
  t.like(histogramPoint(histogram, { 'otel.metric.overflow': true })?.value, { count: 2, sum: 33, min: 3, max: 30 });
  // The SDK's own default limit, kept: 1 999 sets of their own, then the overflow set.
  const unbounded = new CallDurationHistogram('1.2.3');
  for (let i = 0; i < 2_100; i++) unbounded.record(`M${i}`, 'ok', 1);
  const { resourceMetrics } = await unbounded.collect();
  const points = resourceMetrics.scopeMetrics[0]!.metrics[0]!.dataPoints;
  t.is(points.length, 2_000);
  t.deepEqual(points.at(-1)!.attributes, { 'otel.metric.overflow': true });
});

async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

async function scrape(url: string, until: (text: string) => boolean, timeoutMs = 10_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const text = await fetch(url).then((r) => r.text(), () => '');
    if (until(text) || Date.now() > deadline) return text;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

test('createMeterProvider gives the histogram to both readers: the OTLP exporter and the Prometheus endpoint see it', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const port = await freePort();
  const duration = new CallDurationHistogram('1.2.3');
  const provider = createMeterProvider(
    { otlp: { protocol: 'http', endpoint: receiver.metricsUrl, exportIntervalMs: 100 }, prometheus: { host: '127.0.0.1', port } },
    '1.2.3',
    [duration],
  );
  t.teardown(async () => {
    await provider.shutdown();
    await receiver.stop();
  });
  const clock = new TestClock();
  const metrics = new CallMetrics(provider.getMeter('keyward', '1.2.3'), () => [], { duration, now: clock.now });
  for (const ms of [0.2, 0.25, 7]) call(metrics, clock, 'Encrypt', ms, { ...OK, keyId: 'alpha' });

  const [exported] = (await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.duration', 10_000)).slice(-1);
  t.like(exported, { type: 'histogram', temporality: 'CUMULATIVE', unit: 'ms', description: 'Call latency inside the daemon' });
  t.like(exported!.scope, { name: 'keyward', version: '1.2.3' });
  t.is(exported!.resource['service.name'], 'keyward', "the meter provider's resource, not the producer's");
  const point = exported!.dataPoints.find((p) => p.attributes['rpc.method'] === 'Encrypt');
  t.deepEqual(point?.attributes, { 'rpc.method': 'Encrypt', 'keyward.outcome': 'ok' });
  t.deepEqual(point?.explicitBounds, BOUNDS);
  t.deepEqual(point?.bucketCounts, [0n, 2n, 0n, 0n, 0n, 0n, 1n, 0n, 0n, 0n, 0n, 0n, 0n]);
  t.is(point?.count, 3n);
  t.is(point?.sum, 7.45);
  const histogramPointRaw = exported!.raw.data.case === 'histogram' ? exported!.raw.data.value.dataPoints[0] : undefined;
  t.is(histogramPointRaw?.min, 0.2);
  t.is(histogramPointRaw?.max, 7);

  const text = await scrape(`http://127.0.0.1:${port}/metrics`, (body) => body.includes('keyward_rpc_duration'));
  const labels = 'rpc_method="Encrypt",keyward_outcome="ok",otel_scope_name="keyward",otel_scope_version="1.2.3"';
  t.regex(text, /# TYPE keyward_rpc_duration histogram/);
  t.true(text.includes(`keyward_rpc_duration_count{${labels}} 3`), text);
  t.true(text.includes(`keyward_rpc_duration_sum{${labels}} 7.45`));
  t.true(text.includes(`keyward_rpc_duration_bucket{${labels},le="0.1"} 0`));
  t.true(text.includes(`keyward_rpc_duration_bucket{${labels},le="0.25"} 2`));
  t.true(text.includes(`keyward_rpc_duration_bucket{${labels},le="5"} 2`));
  t.true(text.includes(`keyward_rpc_duration_bucket{${labels},le="10"} 3`));
  t.true(text.includes(`keyward_rpc_duration_bucket{${labels},le="+Inf"} 3`));
  t.regex(text, /keyward_rpc_calls_total\{rpc_method="Encrypt",keyward_outcome="ok",keyward_key_id="alpha"[^}]*\} 3/);
});
