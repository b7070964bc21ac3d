// Reads a V8 .cpuprofile (from `node --cpu-prof`) and prints where the time went: the
// top functions by self time, the top keyward functions by inclusive time, and self
// time grouped by where the code lives (grpc-js, protobuf-es, keyward, Node internals,
// GC). Used on the daemon child of a benchmark run to explain its CPU per call.
//   node dist/bench/profile-summary.js <file.cpuprofile> [top-n] [calls-served]
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  readonly id: number;
  readonly callFrame: { readonly functionName: string; readonly url: string; readonly lineNumber: number };
  readonly children?: readonly number[];
}

interface CpuProfile {
  readonly nodes: readonly ProfileNode[];
  readonly samples: readonly number[];
  readonly timeDeltas: readonly number[];
}

const IDLE = '(idle)';

/** Where a frame's code lives, coarsely. */
function area(url: string, functionName: string): string {
  if (url === '') return functionName.startsWith('(') ? functionName : '(native)';
  if (url.includes('/@grpc/grpc-js/')) return 'grpc-js';
  if (url.includes('/@bufbuild/protobuf/')) return 'protobuf-es';
  if (url.includes('/node_modules/')) return `npm:${url.split('/node_modules/').pop()!.split('/').slice(0, url.includes('/node_modules/@') ? 2 : 1).join('/')}`;
  if (url.includes('/dist/src/')) return 'keyward';
  if (url.startsWith('node:internal/http2') || url.startsWith('node:http2')) return 'node http2';
  if (url.startsWith('node:internal/streams') || url.startsWith('node:stream')) return 'node streams';
  if (url.startsWith('node:internal/crypto') || url.startsWith('node:crypto')) return 'node crypto';
  if (url.startsWith('node:')) return 'node other';
  return 'other';
}

function frameKey(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame;
  const where = url === '' ? '' : ` ${url.includes('/node_modules/') ? url.split('/node_modules/').pop() : url.includes('/dist/') ? `dist/${url.split('/dist/').pop()}` : url}:${lineNumber + 1}`;
  return `${functionName || '(anonymous)'}${where}`;
}

export interface ProfileSummary {
  readonly totalMs: number;
  readonly busyMs: number;
  readonly text: string;
}

/**
 * `itemsServed`: how many calls (batch items) the process served in all, warm-up
 * included; when given, each line also shows its time per call.
 */
export function summarizeProfile(file: string, top = 25, itemsServed?: number): ProfileSummary {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const node of profile.nodes) {
    byId.set(node.id, node);
    for (const child of node.children ?? []) parent.set(child, node.id);
  }
  const self = new Map<number, number>();
  let total = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    const dt = profile.timeDeltas[i] ?? 0;
    const id = profile.samples[i]!;
    self.set(id, (self.get(id) ?? 0) + dt);
    total += dt;
  }
  let idle = 0;
  const selfByFrame = new Map<string, number>();
  const selfByArea = new Map<string, number>();
  const inclusiveKeyward = new Map<string, number>();
  for (const [id, micros] of self) {
    const node = byId.get(id)!;
    if (node.callFrame.functionName === IDLE) {
      idle += micros;
      continue;
    }
    const key = frameKey(node);
    selfByFrame.set(key, (selfByFrame.get(key) ?? 0) + micros);
    const a = area(node.callFrame.url, node.callFrame.functionName);
    selfByArea.set(a, (selfByArea.get(a) ?? 0) + micros);
    // Inclusive time of keyward functions: each function once per stack.
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const n = byId.get(cur)!;
      if (area(n.callFrame.url, n.callFrame.functionName) !== 'keyward') continue;
      const k = frameKey(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusiveKeyward.set(k, (inclusiveKeyward.get(k) ?? 0) + micros);
    }
  }
  const busy = total - idle;
  const pct = (us: number) => `${((100 * us) / busy).toFixed(1).padStart(5)}%`;
  const ms = (us: number) =>
    `${(us / 1000).toFixed(0).padStart(6)} ms` + (itemsServed ? `  ${(us / itemsServed).toFixed(1).padStart(6)} µs/call` : '');
  const list = (m: Map<string, number>, n: number) =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([k, us]) => `  ${pct(us)} ${ms(us)}  ${k}`);
  const text = [
    `${basename(file)}: ${(total / 1e6).toFixed(1)} s sampled, ${(busy / 1e6).toFixed(1)} s busy (percentages are of busy time)` +
      (itemsServed ? `; ${itemsServed.toLocaleString('en-US')} calls served, ${(busy / itemsServed).toFixed(1)} µs busy per call (profiler on)` : ''),
    'self time by area:',
    ...list(selfByArea, 20),
    `top ${top} functions by self time:`,
    ...list(selfByFrame, top),
    'keyward functions by inclusive time:',
    ...list(inclusiveKeyward, 15),
  ].join('\n');
  return { totalMs: total / 1000, busyMs: busy / 1000, text };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const file = process.argv[2];
  if (file === undefined) {
    process.stderr.write('usage: profile-summary.js <file.cpuprofile> [top-n] [calls-served]\n');
    process.exit(2);
  }
  const served = process.argv[4] === undefined ? undefined : Number(process.argv[4]);
  process.stdout.write(`${summarizeProfile(file, Number(process.argv[3] ?? 25), served).text}\n`);
}
