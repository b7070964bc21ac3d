// Metrics of every call: calls by method, key and outcome; latency; DEK cache hits and
// misses; denied calls; and, per key, the age of its primary version and whether its
// rotation is overdue against the schedule of policy §3.6. Labels carry metadata only.
import type { Attributes, Meter } from '@opentelemetry/api';
import type { CallObserver, MetadataReader, ObservedCall } from '../core/call-observer.js';
import { CounterTally } from './counter-tally.js';

/** A key's primary version and its rotation schedule, read when metrics are collected. */
export interface KeyRotationView {
  readonly keyId: string;
  readonly primaryCreatedAt: Date;
  /** The rotation period plus the grace before an alert (policy §3.6), in days. */
  readonly rotationPeriodDays: number;
  readonly overdueGraceDays: number;
}

const DAY_S = 86_400;

export class CallMetrics implements CallObserver {
  readonly #calls;
  readonly #duration;
  readonly #cache;
  readonly #denied;
  /** Methods × outcomes: a closed set (the outcome is a gRPC code name). */
  readonly #durationLabels = new Map<string, Attributes>();

  constructor(meter: Meter, keys: () => readonly KeyRotationView[]) {
    this.#calls = new CounterTally(meter, 'keyward.rpc.calls', 'Calls by method, key and outcome');
    this.#duration = meter.createHistogram('keyward.rpc.duration', {
      description: 'Call latency inside the daemon',
      unit: 'ms',
      advice: { explicitBucketBoundaries: [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000] },
    });
    this.#cache = new CounterTally(meter, 'keyward.dek_cache.lookups', 'DEK cache lookups by hit or miss');
    this.#denied = new CounterTally(meter, 'keyward.rpc.denied', 'Calls refused with PERMISSION_DENIED or UNAUTHENTICATED');
    const age = meter.createObservableGauge('keyward.key.primary_age', { description: 'Age of the primary version', unit: 's' });
    const overdue = meter.createObservableGauge('keyward.key.rotation_overdue', {
      description: '1 when the primary version is older than its rotation period plus grace (policy §3.6)',
    });
    meter.addBatchObservableCallback(
      (result) => {
        const now = Date.now();
        for (const key of keys()) {
          const ageS = Math.max(0, (now - key.primaryCreatedAt.getTime()) / 1000);
          const attributes = { 'keyward.key.id': key.keyId };
          result.observe(age, Math.round(ageS), attributes);
          result.observe(overdue, ageS > (key.rotationPeriodDays + key.overdueGraceDays) * DAY_S ? 1 : 0, attributes);
        }
      },
      [age, overdue],
    );
  }

  /** One frozen attribute object per (method, outcome): the histogram sees the same object each time. */
  #durationAttributes(method: string, outcome: string): Attributes {
    const key = `${method}\u0000${outcome}`;
    let attributes = this.#durationLabels.get(key);
    if (attributes === undefined) {
      attributes = Object.freeze({ 'rpc.method': method, 'keyward.outcome': outcome });
      this.#durationLabels.set(key, attributes);
    }
    return attributes;
  }

  start(method: string, _metadata: MetadataReader): ObservedCall {
    const started = performance.now();
    return {
      run: (fn) => fn(),
      end: (outcome) => {
        const result = outcome.code === 0 ? 'ok' : outcome.codeName;
        const keyId = outcome.keyId ?? '';
        this.#calls.increment(`${method}\u0000${result}\u0000${keyId}`, () => ({
          'rpc.method': method,
          'keyward.outcome': result,
          ...(keyId !== '' ? { 'keyward.key.id': keyId } : {}),
        }));
        this.#duration.record(performance.now() - started, this.#durationAttributes(method, result));
        if (outcome.cacheHit !== undefined) {
          const hit = outcome.cacheHit;
          this.#cache.increment(`${method}\u0000${hit}`, () => ({ 'rpc.method': method, 'keyward.cache.hit': hit }));
        }
        if (outcome.codeName === 'PERMISSION_DENIED' || outcome.codeName === 'UNAUTHENTICATED') {
          this.#denied.increment(`${method}\u0000${result}`, () => ({ 'rpc.method': method, 'keyward.outcome': result }));
        } else if (outcome.deniedItems) {
          // Refused items of a batch that itself succeeded: counted as refusals too.
          this.#denied.increment(`${method}\u0000PERMISSION_DENIED`, () => ({ 'rpc.method': method, 'keyward.outcome': 'PERMISSION_DENIED' }), outcome.deniedItems);
        }
      },
    };
  }
}
