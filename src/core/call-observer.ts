// The seam between the RPC layer and audit: the api layer reports each call's start and
// outcome through this interface; the audit layer's tracer implements it (spans), and a
// no-op serves when telemetry is off. Outcomes carry metadata only, never payloads.
import type { CallerIdentity } from './caller.js';

/** What is known of a call when it ends. */
export interface CallOutcome {
  /** gRPC status code (0 = OK). */
  readonly code: number;
  /** The gRPC status name, e.g. "INVALID_ARGUMENT". */
  readonly codeName: string;
  readonly keyId?: string;
  readonly keyVersion?: number;
  readonly backend?: string;
  readonly cacheHit?: boolean;
  readonly batchSize?: number;
  readonly dekGenerated?: boolean;
  /** Batch items the policy refused (the call itself succeeded). */
  readonly deniedItems?: number;
  /** Who called, as far as the daemon could tell. */
  readonly caller?: CallerIdentity;
  /** Why the call was denied or not authenticated (keyward's own words; never sent). */
  readonly denialReason?: string;
}

export interface ObservedCall {
  /** Runs the call inside the observation (so backend spans become its children). */
  run<T>(fn: () => Promise<T>): Promise<T>;
  end(outcome: CallOutcome): void;
}

/** Reads the first value of a request metadata key (e.g. "traceparent"). */
export type MetadataReader = (key: string) => string | undefined;

export interface CallObserver {
  /**
   * True when the observation must be active while the call runs (the tracer's context,
   * for backend spans); otherwise combineObservers never calls its run().
   */
  readonly wrapsCalls?: boolean;
  start(method: string, metadata: MetadataReader): ObservedCall;
}

const noopCall: ObservedCall = { run: (fn) => fn(), end: () => {} };
export const noopCallObserver: CallObserver = { start: () => noopCall };
