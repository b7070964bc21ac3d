// Backend latency and errors as metrics (keyward.backend.duration, keyward.backend.errors),
// recorded around every backend operation the way backend spans are; plus the DEK cache
// evictions counter. Labels: backend, operation, outcome — metadata only.
import type { Meter } from '@opentelemetry/api';
import type { BackendTracer, SpanAttributes } from '../core/backend-tracer.js';

export class BackendMetrics implements BackendTracer {
  readonly #duration;
  readonly #errors;

  constructor(meter: Meter) {
    this.#duration = meter.createHistogram('keyward.backend.duration', {
      description: 'Backend operation latency (Vault request, PKCS#11 operation)',
      unit: 'ms',
      advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000, 5000] },
    });
    this.#errors = meter.createCounter('keyward.backend.errors', { description: 'Backend operations that failed' });
  }

  async run<T>(_name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
    const labels = { 'keyward.backend': String(attributes['keyward.backend'] ?? ''), 'keyward.backend.operation': String(attributes['keyward.backend.operation'] ?? '') };
    const started = performance.now();
    try {
      const result = await fn();
      this.#duration.record(performance.now() - started, { ...labels, 'keyward.outcome': 'ok' });
      return result;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      const outcome = typeof code === 'string' ? code : 'error';
      this.#duration.record(performance.now() - started, { ...labels, 'keyward.outcome': outcome });
      this.#errors.add(1, { ...labels, 'keyward.outcome': outcome });
      throw err;
    }
  }
}

/** Several backend tracers as one (spans and metrics). */
export function combineBackendTracers(tracers: readonly BackendTracer[]): BackendTracer {
  return {
    run<T>(name: string, attributes: SpanAttributes, fn: () => Promise<T>): Promise<T> {
      let nested = fn;
      for (const tracer of [...tracers].reverse()) {
        const inner = nested;
        nested = () => tracer.run(name, attributes, inner);
      }
      return nested();
    },
  };
}

/** Counts DEK cache departures by cache and reason (evict: size, expire: age, …). */
export function cacheDisposalCounter(meter: Meter): (cache: 'encrypt' | 'decrypt', reason: string) => void {
  const evictions = meter.createCounter('keyward.dek_cache.evictions', { description: 'DEKs that left a cache (zeroized), by reason' });
  return (cache, reason) => evictions.add(1, { 'keyward.cache': cache, 'keyward.reason': reason });
}
