// `make bench`, audit section: Encrypt 1 KiB at concurrency 64 with audit on — spans to
// an OTLP receiver, metrics, and the local hash-chained audit log (fsync interval) —
// against the same daemon with audit off, alternating, in the same run. Goal: ≤ 15 %.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OtlpHttpReceiver } from '../test/support/otlp-receiver/otlp-http-receiver.js';
import { startDaemonChild, type ServerChild } from './child-processes.js';
import { runLoad } from './load-runner.js';
import { encryptTarget, payload } from './targets.js';

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return (Number.isFinite(value) && value > 0 ? value : fallback) * 1000;
}

export async function runAuditBench(): Promise<void> {
  const warmupMs = seconds('BENCH_AUDIT_WARMUP_SECONDS', 2);
  const durationMs = seconds('BENCH_AUDIT_SECONDS', 4);
  const receiver = await OtlpHttpReceiver.start();
  const offDir = mkdtempSync(join(tmpdir(), 'keyward-audit-off-'));
  const onDir = mkdtempSync(join(tmpdir(), 'keyward-audit-on-'));
  const children: ServerChild[] = [];
  const out = (line = '') => process.stdout.write(`${line}\n`);
  try {
    const off = await startDaemonChild(offDir);
    children.push(off);
    const on = await startDaemonChild(onDir, {}, [
      'audit:',
      `  log: { path: ${JSON.stringify(join(onDir, 'audit.jsonl'))}, fsync: interval }`,
      'telemetry:',
      `  traces: { protocol: http, endpoint: ${JSON.stringify(receiver.tracesUrl)}, export_interval_ms: 1000 }`,
      `  metrics: { protocol: http, endpoint: ${JSON.stringify(receiver.metricsUrl)}, export_interval_ms: 5000 }`,
    ]);
    children.push(on);
    const data = payload();
    const measure = async (daemon: ServerChild) => {
      const target = encryptTarget(daemon.socketPath, 4, data);
      try {
        return await runLoad({ concurrency: 64, warmupMs, durationMs, call: target.call, serverPid: daemon.pid });
      } finally {
        target.close();
      }
    };
    out(`Encrypt 1 KiB, concurrency 64, 4 channels; ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up; off/on alternated twice`);
    const rows: Array<[string, number]> = [];
    for (const round of [1, 2]) {
      for (const [label, daemon] of [['audit off', off], ['audit on', on]] as const) {
        const r = await measure(daemon);
        rows.push([label, r.callsPerSecond]);
        out(`  round ${round} ${label.padEnd(9)} ${Math.round(r.callsPerSecond).toLocaleString('en-US').padStart(8)} calls/s  p50 ${Math.round(r.p50Micros)} µs  p99 ${Math.round(r.p99Micros)} µs`);
      }
    }
    const mean = (label: string) => rows.filter(([l]) => l === label).reduce((a, [, v]) => a + v, 0) / 2;
    const overhead = 1 - mean('audit on') / mean('audit off');
    out(`  overhead of audit (spans + metrics + audit log): ${(overhead * 100).toFixed(1)} %   goal <= 15 %`);
    out(`  spans received by the collector: ${receiver.store.spans.length.toLocaleString('en-US')}`);
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    await receiver.stop();
    rmSync(offDir, { recursive: true, force: true });
    rmSync(onDir, { recursive: true, force: true });
  }
}
