// The definition of keyward.rpc.duration (name, description, unit, bucket boundaries,
// attributes): what CallDurationHistogram exports (aggregated by keyward, collected as a
// MetricProducer), and what its test compares with the SDK's own histogram.
import type { Attributes } from '@opentelemetry/api';

/** Where a call's latency goes. */
export interface DurationRecorder {
  /** One call of `method` that ended with `outcome` ('ok' or the gRPC code name), in milliseconds. */
  record(method: string, outcome: string, ms: number): void;
}

export const CALL_DURATION = Object.freeze({
  name: 'keyward.rpc.duration',
  description: 'Call latency inside the daemon',
  unit: 'ms',
  boundariesMs: Object.freeze([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 1000]) as readonly number[],
  /** One frozen attribute object per (method, outcome), built the first time the pair is seen. */
  attributes(method: string, outcome: string): Attributes {
    return Object.freeze({ 'rpc.method': method, 'keyward.outcome': outcome });
  },
});
