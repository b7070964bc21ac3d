// The closed-loop load generator: `concurrency` workers each keep exactly one call in
// flight. A run warms up first (JIT, connections, DEK caches; design.md §8), then
// counts only the calls that complete inside a fixed measurement window and records
// their latencies and the CPU time each side spent in that window. Everything is
// bounded: the window closes on a timer, a run that sees nothing but errors stops
// early, and calls still in flight at the end are waited for only so long.
import { performance } from 'node:perf_hooks';
import { cpuBetween, cpuSnapshot, type CpuSnapshot, type CpuWindow } from './cpu-usage.js';

/** One call on behalf of worker `worker`; rejects on failure. */
export type CallFn = (worker: number) => Promise<void>;

export interface LoadOptions {
  readonly concurrency: number;
  readonly warmupMs: number;
  readonly durationMs: number;
  readonly call: CallFn;
  /** The server process whose CPU time is accounted. */
  readonly serverPid: number;
  /** How long to wait for calls still in flight once the window has closed. */
  readonly drainTimeoutMs?: number;
}

export interface LoadResult {
  /** Calls completed successfully inside the window. */
  readonly calls: number;
  /** Calls completed successfully in all, warm-up included. */
  readonly completedCalls: number;
  /** Calls that failed, warm-up included. */
  readonly errors: number;
  readonly firstError: string | undefined;
  /** Why the run stopped before its window closed, if it did. */
  readonly aborted: string | undefined;
  readonly windowMs: number;
  readonly callsPerSecond: number;
  readonly p50Micros: number;
  readonly p99Micros: number;
  readonly meanMicros: number;
  readonly cpu: CpuWindow | undefined;
}

/** Errors after which a run with (almost) no successes gives up. */
const ERROR_BUDGET = 200;
const ERROR_BACKOFF_MS = 10;

class LatencyRecorder {
  #values = new Float64Array(1 << 16);
  #count = 0;

  record(ms: number): void {
    if (this.#count === this.#values.length) {
      const bigger = new Float64Array(this.#values.length * 2);
      bigger.set(this.#values);
      this.#values = bigger;
    }
    this.#values[this.#count++] = ms;
  }

  get count(): number {
    return this.#count;
  }

  /** p50, p99 and mean in µs. */
  summary(): { p50: number; p99: number; mean: number } {
    const n = this.#count;
    if (n === 0) return { p50: Number.NaN, p99: Number.NaN, mean: Number.NaN };
    const sorted = this.#values.subarray(0, n).sort();
    const at = (q: number) => sorted[Math.min(n - 1, Math.floor(q * (n - 1)))]! * 1_000;
    let sum = 0;
    for (let i = 0; i < n; i++) sum += sorted[i]!;
    return { p50: at(0.5), p99: at(0.99), mean: (sum / n) * 1_000 };
  }
}

function describe(err: unknown): string {
  const e = err as { code?: unknown; details?: unknown; message?: unknown };
  if (typeof e?.details === 'string' && e.details !== '') return `code ${String(e.code)}: ${e.details}`;
  return typeof e?.message === 'string' ? e.message : String(err);
}

export async function runLoad(options: LoadOptions): Promise<LoadResult> {
  const latencies = new LatencyRecorder();
  let measuring = false;
  let stopped = false;
  let errors = 0;
  let okTotal = 0;
  let firstError: string | undefined;
  let aborted: string | undefined;
  let windowStart = 0;
  let windowEnd = 0;
  let cpuStart: CpuSnapshot | undefined;
  let cpuEnd: CpuSnapshot | undefined;

  // Resolves `drainTimeoutMs` after the run is stopped: in-flight calls get this long.
  let drainTimer: NodeJS.Timeout | undefined;
  let releaseDrain: () => void = () => {};
  const drainLimit = new Promise<void>((resolve) => (releaseDrain = resolve));
  const stop = () => {
    if (stopped) return;
    stopped = true;
    drainTimer = setTimeout(releaseDrain, options.drainTimeoutMs ?? 10_000);
  };

  const openWindow = setTimeout(() => {
    cpuStart = cpuSnapshot(options.serverPid);
    windowStart = performance.now();
    measuring = true;
  }, options.warmupMs);
  const closeWindow = setTimeout(() => {
    measuring = false;
    windowEnd = performance.now();
    cpuEnd = cpuSnapshot(options.serverPid);
    stop();
  }, options.warmupMs + options.durationMs);

  const worker = async (index: number): Promise<void> => {
    while (!stopped) {
      const t0 = performance.now();
      try {
        await options.call(index);
      } catch (err) {
        errors++;
        firstError ??= describe(err);
        if (errors >= ERROR_BUDGET && errors > okTotal) {
          aborted ??= `stopped after ${errors} errors (${okTotal} successes)`;
          stop();
        }
        await new Promise((r) => setTimeout(r, ERROR_BACKOFF_MS));
        continue;
      }
      okTotal++;
      if (measuring) latencies.record(performance.now() - t0);
    }
  };

  const workers = Array.from({ length: options.concurrency }, (_, i) => worker(i));
  await Promise.race([Promise.all(workers), drainLimit]);
  clearTimeout(openWindow);
  clearTimeout(closeWindow);
  clearTimeout(drainTimer);
  if (windowEnd === 0) {
    // Aborted before the window closed: account what was measured so far.
    windowEnd = performance.now();
    if (measuring) cpuEnd = cpuSnapshot(options.serverPid);
    measuring = false;
  }
  if (windowStart === 0) windowStart = windowEnd;

  const windowMs = windowEnd - windowStart;
  const { p50, p99, mean } = latencies.summary();
  return {
    calls: latencies.count,
    completedCalls: okTotal,
    errors,
    firstError,
    aborted,
    windowMs,
    callsPerSecond: windowMs > 0 ? (latencies.count * 1_000) / windowMs : 0,
    p50Micros: p50,
    p99Micros: p99,
    meanMicros: mean,
    cpu: cpuStart && cpuEnd ? cpuBetween(cpuStart, cpuEnd) : undefined,
  };
}
