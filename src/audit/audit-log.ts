// The local audit log sink (design.md §6, issue #7): append-only JSON lines, each record
// chained to the previous one by SHA-256, with a configurable fsync policy and size-based
// rotation that carries the chain across files. Appends are serialized through one
// internal queue, so concurrent callers never interleave lines and seq follows call
// order. The format is in audit-record.ts; docs/audit.md is the operator's view.
//
// A record is chained when it is appended (seq, time, prev and its line hash are fixed
// then) and written on the next turn of the loop with the others of its turn, in one
// write. The call path appends through appendMembers: text it built itself, no Promise.
//
// Callers pass metadata only (key id, version, operation, outcome, identity …): never key
// material, plaintext or associated data. The sink refuses byte values as a last guard.
import { dirname } from 'node:path';
import { KeywardError } from '../core/keyward-error.js';
import { silentLogger, type Logger } from '../core/logger.js';
import type { AuditFsyncPolicy, AuditLogConfig } from './audit-log-config.js';
import { listRotatedAuditFiles, rotatedAuditFileName } from './audit-log-files.js';
import { nodeAuditLogFs, type AuditLogFile, type AuditLogFs } from './audit-log-fs.js';
import {
  AUDIT_EMPTY_HEAD,
  AUDIT_MAX_LINE_BYTES,
  auditEventMembers,
  auditLineHash,
  formatAuditLine,
  parseAuditLine,
  serializeAuditEvent,
  type AuditChainHead,
} from './audit-record.js';

/** What a caller records: a plain object of metadata (never secrets, never bytes). */
export type AuditEvent = Readonly<Record<string, unknown>>;

export interface AuditLogOptions {
  /** The file layer (tests inject one that counts fsyncs or fails). */
  readonly fs?: AuditLogFs;
  /** The clock for `time` (default: the system clock). */
  readonly clock?: () => Date;
  /** Where a write or background fsync failure is reported. */
  readonly logger?: Logger;
}

/** An `append` waiting for its record to be written (and, with 'every-record', fsynced). */
interface Waiter {
  readonly seq: number;
  readonly hash: string;
  readonly resolve: (head: AuditChainHead) => void;
  readonly reject: (err: unknown) => void;
}

/** Records the writer takes from the queue at once: lines in chain order from `firstSeq`. */
interface Batch {
  readonly firstSeq: number;
  readonly lines: readonly string[];
  readonly hashes: readonly string[];
  readonly waiters: readonly Waiter[];
}

/** Records taken from the queue per write; bounds the memory of one write call. */
const MAX_BATCH_RECORDS = 4_096;
/** The write buffer is reused from batch to batch up to this size; a larger one is let go. */
const MAX_KEPT_WRITE_BUFFER = 1024 * 1024;
/** Room for `{"seq":…,"time":…,"prev":…}` and the "\n" around an event's members. */
const LINE_OVERHEAD_BYTES = 256;

export class AuditLog {
  readonly path: string;
  readonly #fs: AuditLogFs;
  readonly #clock: (() => Date) | undefined;
  readonly #log: Logger;
  readonly #fsync: AuditFsyncPolicy;
  readonly #fsyncIntervalMs: number;
  readonly #maxFileBytes: number;

  #file: AuditLogFile;
  /** Bytes in the active file, counting every write issued. */
  #size: number;
  /** The index the active file gets when it is rotated. */
  #nextRotationIndex: number;
  /** The chain as far as lines have been formatted (queued lines are written in this order). */
  #tailSeq: number;
  #tailHash: string;
  /** The chain as far as lines have been written. */
  #head: AuditChainHead;

  /** Formatted lines not yet taken by the writer, their hashes, and the appends awaiting them. */
  #lines: string[] = [];
  #hashes: string[] = [];
  #waiters: Waiter[] = [];
  #writeBuffer: Buffer = Buffer.allocUnsafeSlow(64 * 1024);
  #pumping = false;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};
  readonly #startPump = (): void => void this.#pump();
  #closed = false;
  #closedError: KeywardError | undefined;
  #failure: KeywardError | undefined;

  /** `time` of the records appended within one millisecond: the text is made once. */
  #timeMs = Number.NaN;
  #timeText = '';

  /** Written but not yet fsynced. */
  #dirty = false;
  #syncTimer: NodeJS.Timeout | undefined;
  /** An 'interval' fsync running beside the writer; rotation and close wait for it. */
  #backgroundSync: Promise<void> | undefined;
  #lastSyncAt = Number.NEGATIVE_INFINITY;

  private constructor(config: AuditLogConfig, options: AuditLogOptions, file: AuditLogFile, head: AuditChainHead, nextRotationIndex: number) {
    this.path = config.path;
    this.#fs = options.fs ?? nodeAuditLogFs;
    this.#clock = options.clock;
    this.#log = options.logger ?? silentLogger;
    this.#fsync = config.fsync;
    this.#fsyncIntervalMs = config.fsync_interval_ms;
    this.#maxFileBytes = config.max_file_bytes;
    this.#file = file;
    this.#size = file.size;
    this.#tailSeq = head.seq;
    this.#tailHash = head.hash;
    this.#head = head;
    this.#nextRotationIndex = nextRotationIndex;
  }

  /**
   * Opens the log at `config.path`, resuming the chain where it stands: the last line of
   * the active file, or of the newest rotated file when the active one is missing or
   * empty, or the genesis value when there is none. Refuses (failed-precondition) when
   * that last line is truncated or corrupt: appending would bury the damage.
   */
  static async open(config: AuditLogConfig, options: AuditLogOptions = {}): Promise<AuditLog> {
    const fs = options.fs ?? nodeAuditLogFs;
    const path = config.path;
    let rotated: { path: string; index: number }[];
    try {
      rotated = await listRotatedAuditFiles(fs, path);
    } catch (err) {
      throw new KeywardError('failed-precondition', `audit log ${path}: cannot list its directory ${dirname(path)} (${describe(err)})`, { cause: err });
    }
    const newest = rotated.at(-1);
    let active = await fs.stat(path);
    if (active !== undefined && newest !== undefined && (await fs.stat(newest.path))?.id === active.id) {
      // A rotation was cut off between link(2) and unlink(2): finish it.
      await fs.unlink(path);
      await fs.syncDir(dirname(path));
      active = undefined;
    }
    let head = AUDIT_EMPTY_HEAD;
    if (active !== undefined && active.size > 0) head = await readChainHead(fs, path);
    else if (newest !== undefined) head = await readChainHead(fs, newest.path);

    let file: AuditLogFile;
    try {
      file = await fs.open(path, 'append', 0o600);
      if (active === undefined) await fs.syncDir(dirname(path));
    } catch (err) {
      throw new KeywardError('failed-precondition', `audit log ${path}: cannot open it for appending (${describe(err)})`, { cause: err });
    }
    return new AuditLog(config, options, file, head, (newest?.index ?? 0) + 1);
  }

  /** The last record written: its seq and the SHA-256 of its line (an anchor for `audit verify --anchor`). */
  get head(): AuditChainHead {
    return this.#head;
  }

  /**
   * Appends one record. Resolves with the record's seq and hash once it is written (and,
   * with fsync 'every-record', on stable storage). Rejects with invalid-argument for an
   * event that is not plain metadata, failed-precondition after close, and unavailable
   * once a write has failed (the log then takes nothing more: its chain must not skip).
   */
  append(event: AuditEvent): Promise<AuditChainHead> {
    const unavailable = this.#unavailable();
    if (unavailable !== undefined) return Promise.reject(unavailable);
    let members: string;
    try {
      members = auditEventMembers(serializeAuditEvent(event));
    } catch (err) {
      return Promise.reject(err);
    }
    const tooLarge = this.#tooLarge(members);
    if (tooLarge !== undefined) return Promise.reject(tooLarge);
    this.#enqueue(members);
    const seq = this.#tailSeq;
    const hash = this.#tailHash;
    return new Promise<AuditChainHead>((resolve, reject) => {
      this.#waiters.push({ seq, hash, resolve, reject });
    });
  }

  /**
   * The call path's append: no Promise and no validation but the size. `members` is the
   * text of the event's JSON object without its braces, exactly what serializeAuditEvent
   * would write between them (metadata only, no seq, time or prev): the caller vouches
   * for it. Returns why the record was refused — the log is closed (failed-precondition)
   * or failed (unavailable, the same error every time), or the record is too large
   * (invalid-argument) — or undefined once it is queued. A write that fails later is
   * logged by the log itself, once, and fails the log as for `append`.
   */
  appendMembers(members: string): KeywardError | undefined {
    const refused = this.#unavailable() ?? this.#tooLarge(members);
    if (refused !== undefined) return refused;
    this.#enqueue(members);
    return undefined;
  }

  /** Throws why the log takes no record now (closed: failed-precondition; failed: unavailable). */
  assertAppendable(): void {
    const refused = this.#unavailable();
    if (refused !== undefined) throw refused;
  }

  /** Writes what is queued, fsyncs (whatever the policy) and closes the file. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return this.#idle;
    this.#closed = true;
    this.#cancelSyncTimer();
    await this.#idle;
    this.#idle = (async () => {
      try {
        await this.#backgroundSync;
        if (this.#failure === undefined) await this.#sync();
      } finally {
        await this.#file.close();
      }
    })();
    return this.#idle;
  }

  /** Why the log takes no record now (closed, or failed), if it takes none. */
  #unavailable(): KeywardError | undefined {
    if (this.#closed) return (this.#closedError ??= new KeywardError('failed-precondition', `audit log ${this.path} is closed`));
    return this.#failure;
  }

  /** invalid-argument when the record's line would exceed AUDIT_MAX_LINE_BYTES. */
  #tooLarge(members: string): KeywardError | undefined {
    // A UTF-16 unit is at most 3 UTF-8 bytes: count the bytes only when it could matter.
    if (members.length * 3 + LINE_OVERHEAD_BYTES > AUDIT_MAX_LINE_BYTES && Buffer.byteLength(members, 'utf8') + LINE_OVERHEAD_BYTES > AUDIT_MAX_LINE_BYTES) {
      return KeywardError.invalidArgument(`an audit record may be at most ${AUDIT_MAX_LINE_BYTES} bytes`);
    }
    return undefined;
  }

  /**
   * Chains the record now — its seq, time and prev are fixed in call order — and queues
   * its line for the writer.
   */
  #enqueue(members: string): void {
    const seq = this.#tailSeq + 1;
    const line = formatAuditLine(seq, this.#now(), this.#tailHash, members);
    const hash = auditLineHash(line);
    this.#tailSeq = seq;
    this.#tailHash = hash;
    this.#lines.push(line);
    this.#hashes.push(hash);
    if (!this.#pumping) this.#kick();
  }

  /** The record's `time`: RFC 3339 UTC with milliseconds. */
  #now(): string {
    if (this.#clock !== undefined) return this.#clock().toISOString();
    const ms = Date.now();
    if (ms !== this.#timeMs) {
      this.#timeMs = ms;
      this.#timeText = new Date(ms).toISOString();
    }
    return this.#timeText;
  }

  #kick(): void {
    this.#pumping = true;
    this.#idle = new Promise<void>((resolve) => {
      this.#markIdle = resolve;
    });
    // On the next turn of the loop: the responses of this turn leave first, and the
    // records appended meanwhile go out in one write.
    setImmediate(this.#startPump);
  }

  /** The one writer: drains the queue batch by batch. */
  async #pump(): Promise<void> {
    for (;;) {
      if (this.#failure === undefined && this.#lines.length > 0) {
        const batch = this.#takeBatch();
        try {
          await this.#writeBatch(batch);
          for (const w of batch.waiters) w.resolve({ seq: w.seq, hash: w.hash });
        } catch (err) {
          this.#fail(err, batch.waiters);
        }
        continue;
      }
      // Nothing left: stop in the same tick as the check, so a new append starts a new pump.
      this.#pumping = false;
      this.#markIdle();
      return;
    }
  }

  /** Up to MAX_BATCH_RECORDS of the queued lines, with the appends that wait for them. */
  #takeBatch(): Batch {
    const queued = this.#lines.length;
    const firstSeq = this.#tailSeq - queued + 1;
    if (queued <= MAX_BATCH_RECORDS) {
      const batch = { firstSeq, lines: this.#lines, hashes: this.#hashes, waiters: this.#waiters };
      this.#lines = [];
      this.#hashes = [];
      this.#waiters = [];
      return batch;
    }
    const lastSeq = firstSeq + MAX_BATCH_RECORDS - 1;
    let waiting = 0;
    while (waiting < this.#waiters.length && this.#waiters[waiting]!.seq <= lastSeq) waiting += 1;
    return {
      firstSeq,
      lines: this.#lines.splice(0, MAX_BATCH_RECORDS),
      hashes: this.#hashes.splice(0, MAX_BATCH_RECORDS),
      waiters: this.#waiters.splice(0, waiting),
    };
  }

  /**
   * Writes the batch's lines as UTF-8 into one reused buffer and appends it, rotating
   * first where the next line would take the file past max_file_bytes.
   */
  async #writeBatch(batch: Batch): Promise<void> {
    const { lines, hashes, firstSeq } = batch;
    let buffer = this.#writeBuffer;
    let used = 0;
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      const bytes = Buffer.byteLength(line, 'utf8');
      if (this.#size + used + bytes > this.#maxFileBytes && this.#size + used > 0) {
        if (used > 0) await this.#write(buffer, used, firstSeq + i - 1, hashes[i - 1]!);
        used = 0;
        await this.#rotate();
      }
      if (used + bytes > buffer.byteLength) buffer = grown(buffer, used, used + bytes);
      used += buffer.write(line, used, bytes, 'utf8');
    }
    if (buffer.byteLength <= MAX_KEPT_WRITE_BUFFER) this.#writeBuffer = buffer;
    await this.#write(buffer, used, firstSeq + lines.length - 1, hashes[lines.length - 1]!);
    if (this.#fsync === 'every-record') await this.#sync();
    else if (this.#fsync === 'interval') this.#scheduleSync();
  }

  /** Appends the first `bytes` of `buffer`, whose last line is record `seq` with line hash `hash`. */
  async #write(buffer: Buffer, bytes: number, seq: number, hash: string): Promise<void> {
    if (bytes === 0) return;
    this.#size += bytes;
    this.#dirty = true;
    await this.#file.append(buffer.subarray(0, bytes));
    this.#head = { seq, hash };
  }

  async #sync(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    this.#lastSyncAt = performance.now();
    await this.#file.sync();
  }

  /**
   * 'interval': an fsync at most every fsync_interval_ms, at most that long after a
   * write (at once after a quiet spell). It runs beside the writer — fdatasync and
   * write(2) on one descriptor do not conflict — so appends never wait for it.
   */
  #scheduleSync(): void {
    if (this.#syncTimer !== undefined) return;
    const delay = Math.max(0, this.#lastSyncAt + this.#fsyncIntervalMs - performance.now());
    this.#syncTimer = setTimeout(() => {
      this.#syncTimer = undefined;
      if (this.#closed || this.#failure || this.#backgroundSync) return;
      this.#backgroundSync = this.#sync()
        .catch((err: unknown) => this.#fail(err, []))
        .finally(() => {
          this.#backgroundSync = undefined;
          // Written while that fsync ran: schedule the next one.
          if (this.#dirty && !this.#closed && !this.#failure) this.#scheduleSync();
        });
    }, delay);
    this.#syncTimer.unref();
  }

  #cancelSyncTimer(): void {
    if (this.#syncTimer !== undefined) clearTimeout(this.#syncTimer);
    this.#syncTimer = undefined;
  }

  /**
   * Closes the full file (fsynced whatever the policy), gives it the next `.NNNNNN`
   * name — link(2) then unlink(2), so an existing file is never replaced — and starts a
   * new active file. The chain goes on: the new file's first `prev` is the old last hash.
   */
  async #rotate(): Promise<void> {
    const target = rotatedAuditFileName(this.path, this.#nextRotationIndex);
    await this.#backgroundSync;
    this.#dirty = true;
    await this.#sync();
    await this.#file.close();
    await this.#fs.link(this.path, target);
    await this.#fs.unlink(this.path);
    this.#nextRotationIndex += 1;
    this.#file = await this.#fs.open(this.path, 'append', 0o600);
    this.#size = 0;
    await this.#fs.syncDir(dirname(this.path));
  }

  /**
   * A write or fsync failed: the log takes nothing more. The batch being written (if
   * any) and everything queued is dropped; their appends are refused with the failure.
   */
  #fail(err: unknown, waiters: readonly Waiter[]): void {
    this.#cancelSyncTimer();
    this.#failure ??= new KeywardError(
      'unavailable',
      `audit log ${this.path}: a write failed (${describe(err)}); the log accepts no more records until the daemon restarts and the file is checked`,
      { cause: err },
    );
    this.#log.error({ err, path: this.path }, 'audit log write failed');
    const queued = this.#waiters;
    this.#lines = [];
    this.#hashes = [];
    this.#waiters = [];
    for (const w of waiters) w.reject(this.#failure);
    for (const w of queued) w.reject(this.#failure);
  }
}

/** A larger buffer holding the first `used` bytes of `buffer`. */
function grown(buffer: Buffer, used: number, needed: number): Buffer {
  const larger = Buffer.allocUnsafeSlow(Math.max(needed, buffer.byteLength * 2));
  buffer.copy(larger, 0, 0, used);
  return larger;
}

function describe(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * The chain head at the end of `path`: seq and line hash of its last line. The file must
 * end with "\n" and that line must be a well-formed record, else failed-precondition.
 */
async function readChainHead(fs: AuditLogFs, path: string): Promise<AuditChainHead> {
  const refuse = (why: string): KeywardError =>
    new KeywardError(
      'failed-precondition',
      `audit log ${path}: ${why}; refusing to append to a file whose last record cannot be trusted — check it with "keyward audit verify" and move it aside`,
    );
  let file: AuditLogFile;
  try {
    file = await fs.open(path, 'read');
  } catch (err) {
    throw new KeywardError('failed-precondition', `audit log ${path}: cannot read it to resume the chain (${describe(err)})`, { cause: err });
  }
  try {
    const size = file.size;
    if (size === 0) return AUDIT_EMPTY_HEAD;
    const lastByte = await file.read(size - 1, 1);
    if (lastByte[0] !== 0x0a) throw refuse('the last line is truncated (the file does not end with a newline)');
    // Read backwards until the newline that ends the line before the last one.
    const want = Math.min(size, AUDIT_MAX_LINE_BYTES + 1);
    const tail = await file.read(size - want, want);
    const body = tail.subarray(0, tail.byteLength - 1);
    const start = body.lastIndexOf(0x0a) + 1;
    if (start === 0 && want < size) throw refuse(`the last line is longer than ${AUDIT_MAX_LINE_BYTES} bytes (corrupt)`);
    const line = tail.subarray(start);
    const record = parseAuditLine(line.subarray(0, line.byteLength - 1));
    if ('error' in record) throw refuse(`the last line is corrupt: ${record.error}`);
    return { seq: record.seq, hash: auditLineHash(line) };
  } finally {
    await file.close();
  }
}
