import { mkdtempSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { startDaemonChild } from './dist/bench/child-processes.js';
import { runLoad } from './dist/bench/load-runner.js';
import { encryptTarget, payload } from './dist/bench/targets.js';
import { summarizeProfile } from './dist/bench/profile-summary.js';
const parts = new Set((process.env.PARTS ?? 'traces').split(','));
const sink = spawn(process.execPath, ['dist/bench/otlp-sink-child.js'], { stdio: ['ignore', 'pipe', 'pipe'] });
const [line] = await once(sink.stdout, 'data');
const receiver = JSON.parse(line.toString().split('\n')[0]);
const dir = mkdtempSync(join(tmpdir(), 'prof-'));
const profDir = join(dir, 'prof');
const yaml = [
  ...(parts.has('log') ? ['audit:', `  log: { path: ${JSON.stringify(join(dir, 'audit.jsonl'))}, fsync: interval }`] : []),
  ...(parts.has('traces') || parts.has('metrics') ? ['telemetry:'] : []),
  ...(parts.has('traces') ? [`  traces: { protocol: ${process.env.PROTO ?? 'http'}, endpoint: ${JSON.stringify(process.env.PROTO === 'grpc' ? receiver.traces.replace(/\/v1\/traces$/, '') : receiver.traces)}, export_interval_ms: 1000 }`] : []),
  ...(parts.has('metrics') ? [`  metrics: { protocol: http, endpoint: ${JSON.stringify(receiver.metrics)}, export_interval_ms: 5000 }`] : []),
];
const d = await startDaemonChild(dir, process.env.PROF ? { cpuProfileDir: profDir } : {}, parts.has('none') ? [] : yaml);
const t = encryptTarget(d.socketPath, 4, payload());
const sinkUsage0 = process.cpuUsage();
const r = await runLoad({ concurrency: 64, warmupMs: 2000, durationMs: 6000, call: t.call, serverPid: d.pid });
console.log(JSON.stringify({ cps: Math.round(r.callsPerSecond), cpu: r.cpu }));
t.close();
await d.stop();
sink.kill('SIGTERM'); await once(sink, 'exit');
if (process.env.PROF) { const f = readdirSync(profDir)[0]; console.log(summarizeProfile(join(profDir, f), 30).text); }
