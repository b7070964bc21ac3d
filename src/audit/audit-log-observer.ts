// Writes one audit record per call to the local hash-chained audit log (policy §3.5,
// §8: actor, operation, key id, outcome, time). Records carry metadata only. Appends
// are queued, not awaited on the call's path (no Promise per call: appendMembers); a
// refused append is logged — once per cause — and never surfaced to the caller.
import type { CallObserver, CallOutcome, MetadataReader, ObservedCall } from '../core/call-observer.js';
import type { Logger } from '../core/logger.js';
import type { KeywardError } from '../core/keyward-error.js';
import type { AuditLog } from './audit-log.js';
import { CallRecordFormat } from './call-record-members.js';

export class AuditLogObserver implements CallObserver {
  readonly #recorder: CallRecorder;

  constructor(log: AuditLog, logger: Logger, plane: 'data' | 'admin') {
    this.#recorder = new CallRecorder(log, logger, new CallRecordFormat(plane));
  }

  start(method: string, _metadata: MetadataReader): ObservedCall {
    return new AuditedCall(this.#recorder, method, performance.now());
  }
}

/** One call under observation: a small object with prototype methods, no closures. */
class AuditedCall implements ObservedCall {
  constructor(
    private readonly recorder: CallRecorder,
    private readonly method: string,
    private readonly startedMs: number,
  ) {}

  run<T>(fn: () => Promise<T>): Promise<T> {
    return fn();
  }

  end(outcome: CallOutcome): void {
    this.recorder.record(this.method, outcome, Math.floor((performance.now() - this.startedMs) * 1000));
  }
}

/** Formats each ended call's record and queues it; reports refusals to the logger. */
class CallRecorder {
  /** The last refusal logged: a failed or closed log refuses with the same error each time. */
  #lastRefusal: KeywardError | undefined;

  constructor(
    private readonly log: AuditLog,
    private readonly logger: Logger,
    private readonly format: CallRecordFormat,
  ) {}

  record(method: string, outcome: CallOutcome, durationUs: number): void {
    let members: string;
    try {
      members = this.format.members(method, outcome, durationUs);
    } catch (err) {
      this.logger.error({ err: String(err) }, 'audit log append failed');
      return;
    }
    const refused = this.log.appendMembers(members);
    if (refused !== undefined && refused !== this.#lastRefusal) {
      this.#lastRefusal = refused;
      this.logger.error({ err: String(refused) }, 'audit log append failed');
    }
  }
}
