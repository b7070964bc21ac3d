// One call observed by CallMetrics: a small object holding what end() needs (the method
// and the start time) instead of two closures per call.
import type { CallOutcome, ObservedCall } from '../core/call-observer.js';

/** Where a metered call reports its end. */
export interface CallRecorder {
  record(method: string, startedAt: number, outcome: CallOutcome): void;
}

export class MeteredCall implements ObservedCall {
  readonly #recorder: CallRecorder;
  readonly #method: string;
  readonly #startedAt: number;

  constructor(recorder: CallRecorder, method: string, startedAt: number) {
    this.#recorder = recorder;
    this.#method = method;
    this.#startedAt = startedAt;
  }

  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  end(outcome: CallOutcome): void {
    this.#recorder.record(this.#method, this.#startedAt, outcome);
  }
}
