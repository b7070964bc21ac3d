// Key lifecycle events (policy §8, procedure §6: an auditable record for every
// lifecycle action): each becomes an INTERNAL span named keyward.lifecycle.<event> and,
// when the local audit log is on, a chained record. Fields are metadata only.
import { SpanKind, type Tracer } from '@opentelemetry/api';
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
  | 'policy.reload_requested';

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

  record(event: LifecycleEvent, fields: LifecycleFields): void {
    if (this.#tracer !== undefined) {
      const parent = this.#scope?.current();
      this.#tracer.startSpan(`keyward.lifecycle.${event}`, { kind: SpanKind.INTERNAL, attributes: { 'keyward.event': event, ...fields } }, parent).end();
    }
    this.#auditLog?.append({ event, ...fields }).catch((err: unknown) => this.#log.error({ err: String(err), event }, 'audit log append failed'));
    this.#log.info({ event, ...fields }, 'key lifecycle event');
  }
}
