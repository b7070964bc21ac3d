// `make bench`, audit section: Encrypt 1 KiB at concurrency 64 with audit on — spans to
// an OTLP receiver, metrics, and the local hash-chained audit log (fsync interval) —
// against the same daemon with audit off, alternating, in the same run. Goal: ≤ 15 %.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { startDaemonChild, type ServerChild } from './child-processes.js';
import { runLoad } from './load-runner.js';
import { encryptTarget, payload } from './targets.js';

function seconds(name: string, fallback: number): number {
  const value = Number(process.env[name]);
  return (Number.isFinite(value) && value > 0 ? value : fallback) * 1000;
}

/** The median over rounds of 1 − on/off, each round's 'audit off' row followed by its 'audit on' row. */
export function pairedMedianOverhead(rows: ReadonlyArray<{ readonly label: string; readonly callsPerSecond: number }>): number {
  const overheads: number[] = [];
  for (let i = 0; i + 1 < rows.length; i += 2) {
    const [off, on] = [rows[i]!, rows[i + 1]!];
    if (off.label === 'audit off' && on.label === 'audit on' && off.callsPerSecond > 0) overheads.push(1 - on.callsPerSecond / off.callsPerSecond);
  }
  if (overheads.length === 0) return Number.NaN;
  overheads.sort((a, b) => a - b);
  const mid = overheads.length >> 1;
  return overheads.length % 2 === 1 ? overheads[mid]! : (overheads[mid - 1]! + overheads[mid]!) / 2;
}

export async function runAuditBench(): Promise<void> {
  const warmupMs = seconds('BENCH_AUDIT_WARMUP_SECONDS', 2);
  const durationMs = seconds('BENCH_AUDIT_SECONDS', 4);
  // The collector stand-in runs in its own process, as a node-local collector would.
  const sink = spawn(process.execPath, [fileURLToPath(new URL('./otlp-sink-child.js', import.meta.url))], { stdio: ['ignore', 'pipe', 'pipe'] });
  const [line] = (await once(sink.stdout!, 'data')) as [Buffer];
  const receiver = JSON.parse(line.toString().split('\n')[0]!) as { traces: string; metrics: string };
  let sinkReport = '';
  sink.stderr!.on('data', (c: Buffer) => (sinkReport += c.toString()));
  const offDir = mkdtempSync(join(tmpdir(), 'keyward-audit-off-'));
  const onDir = mkdtempSync(join(tmpdir(), 'keyward-audit-on-'));
  const children: ServerChild[] = [];
  const out = (line = '') => process.stdout.write(`${line}\n`);
  try {
    const off = await startDaemonChild(offDir);
    children.push(off);
    // BENCH_AUDIT_PARTS=traces,metrics,log (default all) measures the parts on their own.
    const parts = new Set((process.env['BENCH_AUDIT_PARTS'] ?? 'traces,metrics,log').split(','));
    const on = await startDaemonChild(onDir, {}, [
      ...(parts.has('log') ? ['audit:', `  log: { path: ${JSON.stringify(join(onDir, 'audit.jsonl'))}, fsync: interval }`] : []),
      ...(parts.has('traces') || parts.has('metrics') ? ['telemetry:'] : []),
      ...(parts.has('traces') ? [`  traces: { protocol: http, endpoint: ${JSON.stringify(receiver.traces)}, export_interval_ms: 1000 }`] : []),
      ...(parts.has('metrics') ? [`  metrics: { protocol: http, endpoint: ${JSON.stringify(receiver.metrics)}, export_interval_ms: 5000 }`] : []),
    ]);
    out(`audit parts on: ${[...parts].join(', ')}`);
    children.push(on);
    const data = payload();
    const measure = async (daemon: ServerChild, concurrency = 64) => {
      const target = encryptTarget(daemon.socketPath, concurrency === 1 ? 1 : 4, data);
      try {
        return await runLoad({ concurrency, warmupMs, durationMs, call: target.call, serverPid: daemon.pid });
      } finally {
        target.close();
      }
    };
    // BENCH_AUDIT_ROUNDS (default 4): off/on pairs; the machine is shared and noisy.
    const rounds = Math.max(1, Math.round(Number(process.env['BENCH_AUDIT_ROUNDS'] ?? 4)) || 4);
    out(`Encrypt 1 KiB, concurrency 64, 4 channels; ${durationMs / 1000} s per row after ${warmupMs / 1000} s warm-up; off/on alternated ${rounds} times`);
    const rows: Array<{ label: string; callsPerSecond: number; serverMicrosPerCall: number }> = [];
    for (let round = 1; round <= rounds; round++) {
      for (const [label, daemon] of [['audit off', off], ['audit on', on]] as const) {
        const r = await measure(daemon);
        const serverMicrosPerCall = r.cpu?.serverMicros !== undefined && r.calls > 0 ? r.cpu.serverMicros / r.calls : Number.NaN;
        rows.push({ label, callsPerSecond: r.callsPerSecond, serverMicrosPerCall });
        out(
          `  round ${round} ${label.padEnd(9)} ${Math.round(r.callsPerSecond).toLocaleString('en-US').padStart(8)} calls/s  ` +
            `p50 ${Math.round(r.p50Micros)} µs  p99 ${Math.round(r.p99Micros)} µs  daemon CPU ${serverMicrosPerCall.toFixed(1)} µs/call`,
        );
      }
    }
    const mean = (label: string, pick: (r: (typeof rows)[number]) => number) => {
      const picked = rows.filter((r) => r.label === label).map(pick);
      return picked.reduce((a, v) => a + v, 0) / picked.length;
    };
    const overhead = 1 - mean('audit on', (r) => r.callsPerSecond) / mean('audit off', (r) => r.callsPerSecond);
    const cpuOff = mean('audit off', (r) => r.serverMicrosPerCall);
    const cpuOn = mean('audit on', (r) => r.serverMicrosPerCall);
    out(`  overhead of audit (${[...parts].join(' + ')}): ${(overhead * 100).toFixed(1)} % fewer calls/s   goal <= 15 %`);
    // Each round's off and on rows run back to back: their ratio is the least disturbed by
    // the machine's drift, and the median of those ratios by one disturbed round.
    out(`  median of the rounds' own overheads: ${(pairedMedianOverhead(rows) * 100).toFixed(1)} %`);
    out(`  daemon CPU per call: ${cpuOff.toFixed(1)} µs off, ${cpuOn.toFixed(1)} µs on (+${(cpuOn - cpuOff).toFixed(1)} µs, +${((cpuOn / cpuOff - 1) * 100).toFixed(1)} %)`);
    // One caller at a time: the daemon is not saturated, the audit's cost shows as latency.
    const single: Record<string, number[]> = { 'audit off': [], 'audit on': [] };
    for (let round = 1; round <= 2; round++) {
      for (const [label, daemon] of [['audit off', off], ['audit on', on]] as const) {
        const r = await measure(daemon, 1);
        single[label]!.push(r.callsPerSecond);
        out(`  concurrency 1, round ${round} ${label.padEnd(9)} ${Math.round(r.callsPerSecond).toLocaleString('en-US').padStart(8)} calls/s  p50 ${Math.round(r.p50Micros)} µs`);
      }
    }
    const avg = (values: number[]) => values.reduce((a, v) => a + v, 0) / values.length;
    out(`  overhead at concurrency 1: ${((1 - avg(single['audit on']!) / avg(single['audit off']!)) * 100).toFixed(1)} % fewer calls/s`);
  } finally {
    await Promise.allSettled(children.map((c) => c.stop()));
    sink.kill('SIGTERM');
    await once(sink, 'exit');
    out(`  collector stand-in (own process): ${sinkReport.trim()}`);
    rmSync(offDir, { recursive: true, force: true });
    rmSync(onDir, { recursive: true, force: true });
  }
}
