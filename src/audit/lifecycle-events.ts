// Key lifecycle events (policy §8, procedure §6: an auditable record for every
// lifecycle action): each becomes an INTERNAL span named keyward.lifecycle.<event> and,
// when the local audit log is on, a chained record. Fields are metadata only.
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import { KeywardError } from '../core/keyward-error.js';
import type { Logger } from '../core/logger.js';
import type { AuditLog } from './audit-log.js';
import type { SpanScope } from './span-scope.js';

export type LifecycleEvent =
  | 'key.generated'
  | 'key.version_disabled'
  | 'key.version_destroyed'
  | 'key.version_enabled'
  | 'key.rotated'
  | 'dek.generated'
  | 'policy.reloaded'
  | 'policy.reload_failed'
  | 'alert.failed_attempts'
  | 'escrow.split'
  | 'escrow.combined';

export type LifecycleFields = Readonly<Record<string, string | number | boolean>>;

export class LifecycleEvents {
  readonly #tracer: Tracer | undefined;
  readonly #scope: SpanScope | undefined;
  readonly #auditLog: AuditLog | undefined;
  readonly #log: Logger;

  constructor(options: { tracer?: Tracer; scope?: SpanScope; auditLog?: AuditLog; logger: Logger }) {
    this.#tracer = options.tracer;
    this.#scope = options.scope;
    this.#auditLog = options.auditLog;
    this.#log = options.logger;
  }

  /**
   * Throws why the local audit log (when configured) would refuse a record now — it is
   * closed or a write failed — so that an operation whose record must be kept (escrow)
   * is refused before it does anything.
   */
  assertRecordable(): void {
    this.#auditLog?.assertAppendable();
  }

  /**
   * Records the event like record(), and resolves only once its audit record is written
   * (when the local audit log is configured): `unavailable` if it could not be. For the
   * events policy §7 wants "fully logged" before the operation counts as done (escrow).
   */
  async recordDurably(event: LifecycleEvent, fields: LifecycleFields): Promise<void> {
    this.#emit(event, fields, 'info');
    if (this.#auditLog === undefined) return;
    try {
      await this.#auditLog.append({ event, ...fields });
    } catch (err) {
      this.#log.error({ err: String(err), event }, 'audit log append failed');
      throw new KeywardError('unavailable', `the ${event} record could not be written to the audit log`, { cause: err });
    }
  }

  /** `error`: an alert (failed attempts) or a refused reload; its span has status ERROR. */
  record(event: LifecycleEvent, fields: LifecycleFields, level: 'info' | 'error' = 'info'): void {
    this.#emit(event, fields, level);
    const record = { event, ...(level === 'error' ? { level } : {}), ...fields };
    this.#auditLog?.append(record).catch((err: unknown) => this.#log.error({ err: String(err), event }, 'audit log append failed'));
  }

  /** The span and the log line of an event. */
  #emit(event: LifecycleEvent, fields: LifecycleFields, level: 'info' | 'error'): void {
    if (this.#tracer !== undefined) {
      const parent = this.#scope?.current();
      const attributes = { 'keyward.event': event, ...(level === 'error' ? { 'keyward.level': 'error' } : {}), ...fields };
      const span = this.#tracer.startSpan(`keyward.lifecycle.${event}`, { kind: SpanKind.INTERNAL, attributes }, parent);
      if (level === 'error') span.setStatus({ code: SpanStatusCode.ERROR, message: event });
      span.end();
    }
    if (level === 'error') this.#log.error({ event, ...fields }, 'keyward alert');
    else this.#log.info({ event, ...fields }, 'key lifecycle event');
  }
}
