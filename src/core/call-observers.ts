// Several call observers as one (e.g. the span tracer, metrics and the local audit
// log): each sees every call's start and end. Only observers that wrap the call (the
// tracer: its context must be active for backend spans) run around it; the others'
// run() would only call through, so per call the combination adds one array. One
// observer that throws at a call's end does not keep the others (the audit log) from it.
import type { CallObserver, CallOutcome, MetadataReader, ObservedCall } from './call-observer.js';

class CombinedCall implements ObservedCall {
  constructor(
    readonly calls: readonly ObservedCall[],
    /** Indexes of the calls whose run() wraps, outermost first. */
    readonly wrapping: readonly number[],
    readonly onError: (err: unknown) => void,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    let nested = fn;
    for (let i = this.wrapping.length - 1; i >= 0; i--) {
      const call = this.calls[this.wrapping[i]!]!;
      const inner = nested;
      nested = () => call.run(inner);
    }
    return nested();
  }

  end(outcome: CallOutcome): void {
    for (const call of this.calls) {
      try {
        call.end(outcome);
      } catch (err) {
        this.onError(err);
      }
    }
  }
}

/** `onError`: where an observer's failure at a call's end is reported (the daemon logs it). */
export function combineObservers(observers: readonly CallObserver[], onError: (err: unknown) => void): CallObserver {
  // Even one observer goes through CombinedCall: its end() must not throw into the route.
  const wrapping = observers.flatMap((o, i) => (o.wrapsCalls === true ? [i] : []));
  return {
    wrapsCalls: wrapping.length > 0,
    start(method: string, metadata: MetadataReader): ObservedCall {
      const calls: ObservedCall[] = [];
      for (const observer of observers) calls.push(observer.start(method, metadata));
      return new CombinedCall(calls, wrapping, onError);
    },
  };
}
