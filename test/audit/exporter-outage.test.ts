// The collector down for 30 s (KEYWARD_OTLP_OUTAGE_MS to shorten): the daemon keeps
// serving at its usual latency, spans it cannot deliver are dropped and counted in
// keyward.telemetry.spans.dropped (queue bounded), and export resumes by itself when the
// collector is back.
import test from 'ava';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { startTestDaemon } from '../support/test-daemon.js';

const OUTAGE_MS = Number(process.env['KEYWARD_OTLP_OUTAGE_MS'] ?? 30_000);

async function droppedSpans(port: number): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const m of text.matchAll(/keyward_telemetry_spans_dropped_total\{[^}]*keyward_reason="(\w+)"[^}]*\} (\d+)/g)) out[m[1]!] = Number(m[2]);
  return out;
}

test(`collector down for ${OUTAGE_MS / 1000} s: serving continues, drops are counted, export resumes`, async (t) => {
  t.timeout(OUTAGE_MS + 60_000);
  const receiver = await OtlpHttpReceiver.start();
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const d = await startTestDaemon({
    overrides: {
      telemetry: {
        traces: { protocol: 'http', endpoint: receiver.tracesUrl, export_interval_ms: 200, max_queue_size: 50 },
        prometheus: { port },
      },
    },
  });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('before') });
  await receiver.store.waitForSpans((s) => s.name === 'keyward.Encrypt');

  await receiver.stop();
  const until = Date.now() + OUTAGE_MS;
  const latencies: number[] = [];
  let failures = 0;
  while (Date.now() < until) {
    const started = performance.now();
    await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('during') }).catch(() => failures++);
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  latencies.sort((a, b) => a - b);
  const p99 = latencies[Math.floor(latencies.length * 0.99)]!;
  t.log(`${latencies.length} calls during the outage, p50 ${latencies[latencies.length >> 1]!.toFixed(1)} ms, p99 ${p99.toFixed(1)} ms`);
  t.is(failures, 0, 'every call was served');
  t.true(p99 < 100, `p99 ${p99} ms`);
  const dropped = await droppedSpans(port);
  t.log(`dropped: ${JSON.stringify(dropped)}`);
  t.true((dropped['queue_full'] ?? 0) + (dropped['export_failed'] ?? 0) > 0, 'drops are counted');
  t.true((dropped['queue_full'] ?? 0) <= latencies.length, 'no more drops than spans');

  await receiver.start();
  const marker = Buffer.from('after');
  let resumed = false;
  for (let i = 0; i < 100 && !resumed; i++) {
    await d.client.encrypt({ keyId: 'alpha', plaintext: marker });
    resumed = receiver.store.spans.some((s) => s.name === 'keyward.Encrypt' && s.endTimeUnixNano > BigInt(until) * 1_000_000n);
    if (!resumed) await new Promise((r) => setTimeout(r, 200));
  }
  t.true(resumed, 'spans reach the collector again');
});
