// The audit record format, shared by the writer (audit-log.ts) and the verifier
// (verify-audit-chain.ts), so both agree byte for byte on what a record is and what its
// link hash covers. docs/audit.md is the prose of the same rules.
import { hash } from 'node:crypto';
import { KeywardError } from '../core/keyward-error.js';
import { SecretBytes } from '../core/secret-bytes.js';

/** `prev` of the first record of a chain: 64 hex zeros (docs/audit.md, "Genesis"). */
export const AUDIT_GENESIS_PREV = '0'.repeat(64);

/** `seq` of the first record of a chain; every next record has seq + 1. */
export const AUDIT_FIRST_SEQ = 1;

/** Field names the sink sets itself; an event may not carry them. */
export const AUDIT_RESERVED_FIELDS: readonly string[] = ['seq', 'time', 'prev'];

/** The point a chain has reached: the last record's seq and the SHA-256 of its line. */
export interface AuditChainHead {
  /** seq of the last record (0 for an empty chain). */
  readonly seq: number;
  /** hex SHA-256 of the last record's line including its "\n" (the genesis value when empty). */
  readonly hash: string;
}

/** The head of a chain that has no record yet. */
export const AUDIT_EMPTY_HEAD: AuditChainHead = Object.freeze({ seq: 0, hash: AUDIT_GENESIS_PREV });

/**
 * The link hash: hex SHA-256 of one record's exact line bytes, including the terminating
 * "\n" — what `sed -n Np FILE | sha256sum` prints for line N. A string is hashed as its
 * UTF-8 bytes, which are the bytes the writer puts in the file. One-shot: no Hash object
 * per line.
 */
export function auditLineHash(lineWithNewline: string | Uint8Array): string {
  return hash('sha256', lineWithNewline, 'hex');
}

/** The fields every record carries, as parsed back from a line. */
export interface ParsedAuditRecord {
  readonly seq: number;
  readonly time: string;
  readonly prev: string;
  readonly fields: Readonly<Record<string, unknown>>;
}

const HEX64 = /^[0-9a-f]{64}$/;
/** RFC 3339 date-time (the writer emits `Date.toISOString()`, which is one). */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;

const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Parses one line (without its "\n") into a record, or returns why it is not one. The
 * line must be valid UTF-8 holding a JSON object with seq (a positive integer), time
 * (RFC 3339) and prev (64 lowercase hex digits).
 */
export function parseAuditLine(line: Uint8Array): ParsedAuditRecord | { readonly error: string } {
  if (line.byteLength === 0) return { error: 'empty line' };
  let text: string;
  try {
    text = utf8.decode(line);
  } catch {
    return { error: 'not valid UTF-8' };
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    return { error: `bad JSON (${(err as Error).message})` };
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return { error: 'bad record: not a JSON object' };
  const obj = value as Record<string, unknown>;
  const { seq, time, prev } = obj;
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < AUDIT_FIRST_SEQ) {
    return { error: 'bad record: "seq" is missing or not a positive integer' };
  }
  if (typeof time !== 'string' || !RFC3339.test(time) || Number.isNaN(Date.parse(time))) {
    return { error: 'bad record: "time" is missing or not an RFC 3339 date-time' };
  }
  if (typeof prev !== 'string' || !HEX64.test(prev)) {
    return { error: 'bad record: "prev" is missing or not 64 lowercase hex digits' };
  }
  return { seq, time, prev, fields: obj };
}

/** Longest line (with its "\n") the writer produces and the resume logic reads back. */
export const AUDIT_MAX_LINE_BYTES = 1024 * 1024;

function isBinary(value: unknown): boolean {
  return ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer || value instanceof SecretBytes;
}

/**
 * The JSON text of a caller's event: a plain object of metadata. Binary values (Buffer,
 * typed arrays, SecretBytes) are refused — key material, plaintext and associated data
 * are bytes, and no audit field needs bytes — and so are the reserved field names.
 * bigint values become decimal strings. Throws KeywardError('invalid-argument').
 */
export function serializeAuditEvent(event: Readonly<Record<string, unknown>>): string {
  if (typeof event !== 'object' || event === null || Array.isArray(event) || isBinary(event)) {
    throw KeywardError.invalidArgument('an audit event must be a plain object of metadata');
  }
  for (const key of Object.keys(event)) {
    if (AUDIT_RESERVED_FIELDS.includes(key)) {
      throw KeywardError.invalidArgument(`an audit event may not set "${key}": the audit log sets seq, time and prev itself`);
    }
  }
  // Flat records of strings, finite numbers and booleans (every call record) need no
  // replacer: nothing in them can be bytes. A replacer costs several µs per record.
  if (isFlatMetadata(event)) return JSON.stringify(event);
  let body: string | undefined;
  try {
    body = JSON.stringify(event, function (this: unknown, key: string, value: unknown) {
      // `this[key]` is the value before its toJSON ran (a Buffer's toJSON lists its bytes).
      const original = (this as Record<string, unknown>)[key];
      if (isBinary(original) || isBinary(value)) throw new BinaryFieldError(key);
      return typeof value === 'bigint' ? value.toString() : value;
    });
  } catch (err) {
    if (err instanceof BinaryFieldError) {
      throw KeywardError.invalidArgument(`audit event field "${err.field}" holds bytes; an audit record carries metadata only, never key material, plaintext or associated data`);
    }
    throw KeywardError.invalidArgument(`an audit event must be JSON-serializable (${(err as Error).message})`, err);
  }
  if (body === undefined || !body.startsWith('{')) throw KeywardError.invalidArgument('an audit event must serialize to a JSON object');
  return body;
}

function isFlatMetadata(event: Readonly<Record<string, unknown>>): boolean {
  for (const key in event) {
    if (!Object.hasOwn(event, key)) return false;
    const value = event[key];
    const type = typeof value;
    if (type === 'string' || type === 'boolean') continue;
    if (type === 'number' && Number.isFinite(value)) continue;
    return false;
  }
  return Object.getPrototypeOf(event) === Object.prototype;
}

class BinaryFieldError extends Error {
  constructor(readonly field: string) {
    super(`binary value in field ${field}`);
  }
}

/**
 * The members of an event's JSON object — its text without the enclosing braces — as
 * serializeAuditEvent writes them; the sink puts them after seq, time and prev.
 */
export function auditEventMembers(eventJson: string): string {
  return eventJson.slice(1, -1);
}

/**
 * One record's line as text, "\n" included: seq, time and prev first, then the event's
 * `members` (its JSON object without the braces: auditEventMembers). Its UTF-8 bytes are
 * what is written and hashed. JSON escapes every control character, so a record is
 * always exactly one line. `time` is `Date.toISOString()` text, which needs no escaping.
 */
export function formatAuditLine(seq: number, time: string, prev: string, members: string): string {
  return members === '' ? `{"seq":${seq},"time":"${time}","prev":"${prev}"}\n` : `{"seq":${seq},"time":"${time}","prev":"${prev}",${members}}\n`;
}
