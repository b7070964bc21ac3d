// Several call observers as one (e.g. the span tracer and the local audit log): each
// sees every call; runs nest so each observer's context is active for the call.
import type { CallObserver, MetadataReader, ObservedCall } from './call-observer.js';

export function combineObservers(observers: readonly CallObserver[]): CallObserver {
  if (observers.length === 1) return observers[0]!;
  return {
    start(method: string, metadata: MetadataReader): ObservedCall {
      const calls = observers.map((o) => o.start(method, metadata));
      return {
        run<T>(fn: () => Promise<T>): Promise<T> {
          let nested = fn;
          for (const call of [...calls].reverse()) {
            const inner = nested;
            nested = () => call.run(inner);
          }
          return nested();
        },
        end: (outcome) => {
          for (const call of calls) call.end(outcome);
        },
      };
    },
  };
}
