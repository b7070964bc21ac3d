// Turns the measurements of a run into the plain-text report `make bench` prints: one
// table row per measurement, then the ratios the issue sets goals for (Encrypt and
// Decrypt against the bare echo server, EncryptBatch against single Encrypt calls) and
// the channel-setup comparison. Ratios are only ever taken within one run (design §8).
import type { LoadResult } from './load-runner.js';

export type ScenarioKind = 'echo' | 'encrypt' | 'decrypt' | 'batch';

export interface Scenario {
  /** e.g. "encrypt@64/4ch"; BENCH_SCENARIOS selects by it. */
  readonly id: string;
  readonly kind: ScenarioKind;
  readonly concurrency: number;
  readonly channels: number;
  /** 'main' rows feed the ratios; 'channels' rows only the channel comparison. */
  readonly section: 'main' | 'channels';
}

export interface Measurement {
  readonly scenario: Scenario;
  readonly itemsPerCall: number;
  readonly result?: LoadResult;
  /** Set when the scenario could not run at all. */
  readonly failure?: string;
}

export interface RunInfo {
  readonly node: string;
  readonly cpus: number;
  readonly cpuModel: string;
  readonly warmupSeconds: number;
  readonly seconds: number;
  readonly channels: number;
  readonly batchItems: number;
  readonly payloadBytes: number;
  readonly highConcurrency: number;
}

export const ENCRYPT_GOAL = 0.85;
export const BATCH_GOAL = 10;

const LABELS: Record<ScenarioKind, string> = {
  echo: 'echo (bare grpc-js)',
  encrypt: 'Encrypt 1 KiB',
  decrypt: 'Decrypt 1 KiB',
  batch: 'EncryptBatch',
};

function label(m: Measurement): string {
  return m.scenario.kind === 'batch' ? `${LABELS.batch} ${m.itemsPerCall}×1 KiB` : LABELS[m.scenario.kind];
}

const int = (n: number | undefined) => (n === undefined || !Number.isFinite(n) ? '–' : Math.round(n).toLocaleString('en-US'));
const fixed = (n: number | undefined, digits = 2) => (n === undefined || !Number.isFinite(n) ? '–' : n.toFixed(digits));

/** Right-aligns every column but the first; columns are as wide as their widest cell. */
function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => (r[c] ?? '').length)));
  return rows
    .map((r) => r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd())
    .join('\n');
}

interface Derived {
  readonly callsPerSecond: number | undefined;
  readonly itemsPerSecond: number | undefined;
  readonly serverMicrosPerItem: number | undefined;
  readonly serverCores: number | undefined;
  readonly clientCores: number | undefined;
  readonly otherCores: number | undefined;
}

function derive(m: Measurement | undefined): Derived {
  const r = m?.result;
  if (m === undefined || r === undefined || r.calls === 0) {
    return { callsPerSecond: undefined, itemsPerSecond: undefined, serverMicrosPerItem: undefined, serverCores: undefined, clientCores: undefined, otherCores: undefined };
  }
  const windowMicros = r.windowMs * 1_000;
  const cpu = r.cpu;
  const server = cpu?.serverMicros;
  const other =
    cpu?.machineBusyMicros !== undefined && server !== undefined
      ? Math.max(0, cpu.machineBusyMicros - server - cpu.clientMicros) / windowMicros
      : undefined;
  return {
    callsPerSecond: r.callsPerSecond,
    itemsPerSecond: r.callsPerSecond * m.itemsPerCall,
    serverMicrosPerItem: server === undefined ? undefined : server / (r.calls * m.itemsPerCall),
    serverCores: server === undefined ? undefined : server / windowMicros,
    clientCores: cpu === undefined ? undefined : cpu.clientMicros / windowMicros,
    otherCores: other,
  };
}

function find(ms: readonly Measurement[], kind: ScenarioKind, concurrency: number): Measurement | undefined {
  return ms.find((m) => m.scenario.section === 'main' && m.scenario.kind === kind && m.scenario.concurrency === concurrency);
}

function ratio(a: number | undefined, b: number | undefined): number | undefined {
  return a !== undefined && b !== undefined && b > 0 ? a / b : undefined;
}

function verdict(value: number | undefined, goal: number): string {
  if (value === undefined) return 'not measured';
  return value >= goal ? 'meets the goal' : 'BELOW the goal';
}

export function renderReport(info: RunInfo, measurements: readonly Measurement[]): string {
  const out: string[] = [];
  const hi = info.highConcurrency;
  out.push(
    `keyward benchmark — Node ${info.node}, ${info.cpus} CPUs (${info.cpuModel})`,
    `payload ${info.payloadBytes} B, key "alpha" (aes-256-gcm, local backend), empty associated data; ` +
      `per row: ${info.warmupSeconds} s warm-up, then ${info.seconds} s measured; ` +
      `${info.channels} channel(s) (one HTTP/2 connection each) when concurrency > 1`,
    '',
  );

  const header = ['scenario', 'conc', 'ch', 'calls/s', 'items/s', 'p50 µs', 'p99 µs', 'srv CPU µs/item', 'srv cores', 'client cores', 'other cores', 'errors'];
  const rows = [header];
  for (const m of measurements) {
    const d = derive(m);
    const r = m.result;
    rows.push([
      label(m),
      String(m.scenario.concurrency),
      String(m.scenario.channels),
      int(d.callsPerSecond),
      int(d.itemsPerSecond),
      int(r?.p50Micros),
      int(r?.p99Micros),
      fixed(d.serverMicrosPerItem, 1),
      fixed(d.serverCores),
      fixed(d.clientCores),
      fixed(d.otherCores),
      m.failure !== undefined ? 'FAILED' : int(r?.errors),
    ]);
  }
  out.push(table(rows), '');

  const problems = measurements.filter((m) => m.failure !== undefined || m.result?.aborted !== undefined || (m.result?.errors ?? 0) > 0);
  for (const m of problems) {
    out.push(`  ! ${m.scenario.id}: ${m.failure ?? m.result?.aborted ?? ''}${m.result?.firstError ? ` (first error: ${m.result.firstError})` : ''}`);
  }
  const noisy = measurements.filter((m) => (derive(m).otherCores ?? 0) > 0.15);
  if (noisy.length > 0) {
    out.push(`  ! other work used > 0.15 cores during: ${noisy.map((m) => m.scenario.id).join(', ')} — those figures are disturbed`);
  }
  if (problems.length > 0 || noisy.length > 0) out.push('');

  // Encrypt and Decrypt against the bare echo server.
  const concurrencies = [...new Set(measurements.filter((m) => m.scenario.section === 'main' && m.scenario.kind !== 'batch').map((m) => m.scenario.concurrency))].sort((a, b) => a - b);
  const ratioRows = [['ratio (same run, same clients)', ...concurrencies.map((c) => `conc ${c}`), `goal at conc ${hi}`, '']];
  for (const kind of ['encrypt', 'decrypt'] as const) {
    const values = concurrencies.map((c) => ratio(derive(find(measurements, kind, c)).callsPerSecond, derive(find(measurements, 'echo', c)).callsPerSecond));
    const atHi = values[concurrencies.indexOf(hi)];
    ratioRows.push([`${LABELS[kind]} ÷ echo, calls/s`, ...values.map((v) => fixed(v)), `≥ ${ENCRYPT_GOAL}`, verdict(atHi, ENCRYPT_GOAL)]);
  }
  for (const kind of ['encrypt', 'decrypt'] as const) {
    const values = concurrencies.map((c) => ratio(derive(find(measurements, kind, c)).serverMicrosPerItem, derive(find(measurements, 'echo', c)).serverMicrosPerItem));
    ratioRows.push([`${LABELS[kind]} ÷ echo, server CPU/call`, ...values.map((v) => fixed(v)), '', '']);
  }
  out.push(table(ratioRows), '');

  // EncryptBatch against the best single Encrypt figure of the run.
  const best = (kind: ScenarioKind) =>
    measurements
      .filter((m) => m.scenario.section === 'main' && m.scenario.kind === kind)
      .map((m) => ({ m, items: derive(m).itemsPerSecond }))
      .filter((x): x is { m: Measurement; items: number } => x.items !== undefined)
      .sort((a, b) => b.items - a.items)[0];
  const batch = best('batch');
  const single = best('encrypt');
  const batchRatio = ratio(batch?.items, single?.items);
  out.push(
    `EncryptBatch (${info.batchItems} × 1 KiB) vs single Encrypt calls, best of each in this run:`,
    `  EncryptBatch:    ${int(batch?.items)} items/s (concurrency ${batch?.m.scenario.concurrency ?? '–'})`,
    `  single Encrypt:  ${int(single?.items)} calls/s (concurrency ${single?.m.scenario.concurrency ?? '–'})`,
    `  ratio:           ${fixed(batchRatio, 1)}×   goal ≥ ${BATCH_GOAL}×   ${verdict(batchRatio, BATCH_GOAL)}`,
    '',
  );

  // The channel setup: the main rows against the alternative setup at high concurrency.
  const alt = measurements.filter((m) => m.scenario.section === 'channels');
  if (alt.length > 0) {
    const altChannels = alt[0]!.scenario.channels;
    const lookup = (kind: ScenarioKind, section: 'main' | 'channels') =>
      derive(measurements.find((m) => m.scenario.section === section && m.scenario.kind === kind && m.scenario.concurrency === hi)).callsPerSecond;
    const chRows = [[`channel setup at conc ${hi}, calls/s`, `${altChannels} channel(s)`, `${info.channels} channel(s)`]];
    for (const kind of ['echo', 'encrypt'] as const) chRows.push([LABELS[kind], int(lookup(kind, 'channels')), int(lookup(kind, 'main'))]);
    chRows.push([
      'Encrypt ÷ echo',
      fixed(ratio(lookup('encrypt', 'channels'), lookup('echo', 'channels'))),
      fixed(ratio(lookup('encrypt', 'main'), lookup('echo', 'main'))),
    ]);
    out.push(table(chRows), '');
  }

  out.push(
    'calls/s and latencies count only calls completed inside the measured window. srv CPU µs/item: CPU time of the',
    'server process (all threads) per call, per item for batches. cores: CPU time ÷ wall time (2 cores = 2.00);',
    '"other" is machine busy time not spent by the server or the load generator — other work on this machine.',
  );
  return out.join('\n');
}
