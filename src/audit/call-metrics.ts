// Metrics of every call: calls by method, key and outcome; latency; DEK cache hits and
// misses; denied calls; and, per key, the age of its primary version and whether its
// rotation is overdue against the schedule of policy §3.6. Labels carry metadata only.
// On the call path nothing is built once a call's attribute sets have been seen: counts
// and the latency histogram are aggregated here and read by OpenTelemetry at collection.
import type { Attributes, Meter } from '@opentelemetry/api';
import type { CallObserver, CallOutcome, MetadataReader, ObservedCall } from '../core/call-observer.js';
import type { CallDurationHistogram } from './call-duration-histogram.js';
import type { DurationRecorder } from './call-duration-metric.js';
import { CounterTally } from './counter-tally.js';
import { MeteredCall, type CallRecorder } from './metered-call.js';

/** A key's primary version and its rotation schedule, read when metrics are collected. */
export interface KeyRotationView {
  readonly keyId: string;
  readonly primaryCreatedAt: Date;
  /** The rotation period plus the grace before an alert (policy §3.6), in days. */
  readonly rotationPeriodDays: number;
  readonly overdueGraceDays: number;
}

export interface CallMetricsOptions {
  /**
   * keyward.rpc.duration, aggregated by keyward: give the same object to the meter
   * provider's readers (createMeterProvider's `producers`).
   */
  readonly duration: CallDurationHistogram;
  /** A monotonic clock in milliseconds (tests inject one); performance.now() by default. */
  readonly now?: () => number;
}

const DAY_S = 86_400;

function callAttributes(method: string, outcome: string, keyId: string): Attributes {
  return keyId !== ''
    ? { 'rpc.method': method, 'keyward.outcome': outcome, 'keyward.key.id': keyId }
    : { 'rpc.method': method, 'keyward.outcome': outcome };
}

function cacheAttributes(method: string, hit: boolean): Attributes {
  return { 'rpc.method': method, 'keyward.cache.hit': hit };
}

function deniedAttributes(method: string, outcome: string): Attributes {
  return { 'rpc.method': method, 'keyward.outcome': outcome };
}

function isRefusal(codeName: string): boolean {
  return codeName === 'PERMISSION_DENIED' || codeName === 'UNAUTHENTICATED';
}

export class CallMetrics implements CallObserver {
  readonly #calls: CounterTally<string, string, string>;
  readonly #duration: DurationRecorder;
  readonly #cache: CounterTally<string, boolean>;
  readonly #denied: CounterTally<string, string>;
  readonly #now: () => number;
  readonly #recorder: CallRecorder = { record: (method, startedAt, outcome) => this.#record(method, startedAt, outcome) };

  constructor(meter: Meter, keys: () => readonly KeyRotationView[], options: CallMetricsOptions) {
    this.#calls = new CounterTally(meter, 'keyward.rpc.calls', 'Calls by method, key and outcome', callAttributes);
    this.#duration = options.duration;
    this.#cache = new CounterTally(meter, 'keyward.dek_cache.lookups', 'DEK cache lookups by hit or miss', cacheAttributes);
    this.#denied = new CounterTally(meter, 'keyward.rpc.denied', 'Calls refused with PERMISSION_DENIED or UNAUTHENTICATED', deniedAttributes);
    this.#now = options.now ?? (() => performance.now());
    observeKeyRotation(meter, keys);
  }

  start(method: string, _metadata: MetadataReader): ObservedCall {
    return new MeteredCall(this.#recorder, method, this.#now());
  }

  #record(method: string, startedAt: number, outcome: CallOutcome): void {
    const result = outcome.code === 0 ? 'ok' : outcome.codeName;
    this.#calls.increment(method, result, outcome.keyId ?? '');
    this.#duration.record(method, result, this.#now() - startedAt);
    if (outcome.cacheHit !== undefined) this.#cache.increment(method, outcome.cacheHit, '');
    if (isRefusal(outcome.codeName)) this.#denied.increment(method, result, '');
    // Refused items of a batch that itself succeeded: counted as refusals too.
    else if (outcome.deniedItems) this.#denied.increment(method, 'PERMISSION_DENIED', '', outcome.deniedItems);
  }
}

/** keyward.key.primary_age and keyward.key.rotation_overdue, observed per key at collection. */
function observeKeyRotation(meter: Meter, keys: () => readonly KeyRotationView[]): void {
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
