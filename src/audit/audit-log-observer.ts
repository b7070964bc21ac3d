// Writes one audit record per call to the local hash-chained audit log (policy §3.5,
// §8: actor, operation, key id, outcome, time). Records carry metadata only. Appends
// are queued, not awaited on the call's path; a failed append is logged, never
// surfaced to the caller.
import type { CallObserver, MetadataReader, ObservedCall } from '../core/call-observer.js';
import { callerEntries } from './caller-attributes.js';
import type { Logger } from '../core/logger.js';
import type { AuditLog } from './audit-log.js';

export class AuditLogObserver implements CallObserver {
  readonly #log: AuditLog;
  readonly #logger: Logger;
  readonly #plane: string;

  constructor(log: AuditLog, logger: Logger, plane: 'data' | 'admin') {
    this.#log = log;
    this.#logger = logger;
    this.#plane = plane;
  }

  start(method: string, _metadata: MetadataReader): ObservedCall {
    const started = process.hrtime.bigint();
    return {
      run: (fn) => fn(),
      end: (outcome) => {
        const record = {
          event: 'key.operation',
          plane: this.#plane,
          operation: method,
          outcome: outcome.code === 0 ? 'ok' : outcome.codeName,
          ...(outcome.keyId !== undefined ? { key_id: outcome.keyId } : {}),
          ...(outcome.keyVersion !== undefined ? { key_version: outcome.keyVersion } : {}),
          ...(outcome.backend !== undefined ? { backend: outcome.backend } : {}),
          ...(outcome.cacheHit !== undefined ? { cache_hit: outcome.cacheHit } : {}),
          ...(outcome.batchSize !== undefined ? { batch_size: outcome.batchSize } : {}),
          ...(outcome.dekGenerated ? { dek_generated: true } : {}),
          ...(outcome.deniedItems ? { denied_items: outcome.deniedItems } : {}),
          ...(outcome.caller ? Object.fromEntries(callerEntries(outcome.caller, 'record')) : {}),
          ...(outcome.denialReason !== undefined ? { reason: outcome.denialReason } : {}),
          duration_us: Number((process.hrtime.bigint() - started) / 1000n),
        };
        this.#log.append(record).catch((err: unknown) => this.#logger.error({ err: String(err) }, 'audit log append failed'));
      },
    };
  }
}
