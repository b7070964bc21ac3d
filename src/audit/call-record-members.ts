// The text of a call's audit record, written directly rather than through an object and
// JSON.stringify: a record per call made that object (with a spread per optional field)
// and serialized it, the largest share of the audit log's cost per call. The text is
// exactly what serializeAuditEvent writes for that object (test/audit/call-record-members
// checks it field by field); anything unusual in an outcome takes that slow way instead.
import type { CallOutcome } from '../core/call-observer.js';
import { auditEventMembers, serializeAuditEvent } from './audit-record.js';
import { callerEntries, callerRecordMembers } from './caller-attributes.js';

/** Distinct method names whose record opening is kept (the routes have a few dozen). */
const MAX_KEPT_OPENINGS = 256;

/** The `key.operation` record of calls on one plane (docs/audit.md, "Events"). */
export class CallRecordFormat {
  readonly #plane: string;
  /** `"event":"key.operation","plane":…,"operation":…` per method. */
  readonly #openings = new Map<string, string>();

  constructor(plane: 'data' | 'admin') {
    this.#plane = plane;
  }

  /**
   * The record's JSON object members (the text between its braces, for
   * AuditLog.appendMembers): event, plane, operation, outcome, the facts the use case
   * noted, the caller, the denial reason, duration_us — in that order. Throws
   * KeywardError('invalid-argument') when an outcome holds bytes, as the serializer does.
   */
  members(method: string, outcome: CallOutcome, durationUs: number): string {
    const caller = outcome.caller ? callerRecordMembers(outcome.caller) : '';
    if (caller === undefined || !isPlainOutcome(method, outcome)) return auditEventMembers(serializeAuditEvent(this.#record(method, outcome, durationUs)));
    let text = this.#opening(method);
    if (outcome.code === 0) text += ',"outcome":"ok"';
    else if (outcome.codeName !== undefined) text += `,"outcome":${JSON.stringify(outcome.codeName)}`;
    if (outcome.keyId !== undefined) text += `,"key_id":${JSON.stringify(outcome.keyId)}`;
    if (outcome.keyVersion !== undefined) text += `,"key_version":${jsonNumber(outcome.keyVersion)}`;
    if (outcome.backend !== undefined) text += `,"backend":${JSON.stringify(outcome.backend)}`;
    if (outcome.cacheHit !== undefined) text += outcome.cacheHit ? ',"cache_hit":true' : ',"cache_hit":false';
    if (outcome.batchSize !== undefined) text += `,"batch_size":${jsonNumber(outcome.batchSize)}`;
    if (outcome.dekGenerated) text += ',"dek_generated":true';
    if (outcome.deniedItems) text += `,"denied_items":${jsonNumber(outcome.deniedItems)}`;
    if (caller !== '') text += `,${caller}`;
    if (outcome.denialReason !== undefined) text += `,"reason":${JSON.stringify(outcome.denialReason)}`;
    return `${text},"duration_us":${jsonNumber(durationUs)}`;
  }

  #opening(method: string): string {
    let opening = this.#openings.get(method);
    if (opening === undefined) {
      opening = `"event":"key.operation","plane":${JSON.stringify(this.#plane)},"operation":${JSON.stringify(method)}`;
      if (this.#openings.size < MAX_KEPT_OPENINGS) this.#openings.set(method, opening);
    }
    return opening;
  }

  /** The same record as an object, for the serializer (outcomes with unusual values). */
  #record(method: string, outcome: CallOutcome, durationUs: number): Record<string, unknown> {
    return {
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
      duration_us: durationUs,
    };
  }
}

/** JSON text of a number: itself when finite, else null (as JSON.stringify writes it). */
function jsonNumber(value: number): string {
  return Number.isFinite(value) ? `${value}` : 'null';
}

/** Every value of the outcome has the type its interface says (the fast text relies on it). */
function isPlainOutcome(method: string, o: CallOutcome): boolean {
  return (
    typeof method === 'string' &&
    typeof o.code === 'number' &&
    (o.code === 0 || o.codeName === undefined || typeof o.codeName === 'string') &&
    (o.keyId === undefined || typeof o.keyId === 'string') &&
    (o.keyVersion === undefined || typeof o.keyVersion === 'number') &&
    (o.backend === undefined || typeof o.backend === 'string') &&
    (o.cacheHit === undefined || typeof o.cacheHit === 'boolean') &&
    (o.batchSize === undefined || typeof o.batchSize === 'number') &&
    (!o.deniedItems || typeof o.deniedItems === 'number') &&
    (o.denialReason === undefined || typeof o.denialReason === 'string')
  );
}
