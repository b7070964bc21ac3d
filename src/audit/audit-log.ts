// The local audit log sink (design.md §6, issue #7): append-only JSON lines, each record
// chained to the previous one by SHA-256, with a configurable fsync policy and size-based
// rotation that carries the chain across files. Appends are serialized through one
// internal queue, so concurrent callers never interleave lines and seq follows call
// order. The format is in audit-record.ts; docs/audit.md is the operator's view.
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
  /** Where a background fsync failure is reported. */
  readonly logger?: Logger;
}

interface Pending {
  readonly eventJson: string;
  readonly time: string;
  readonly resolve: (head: AuditChainHead) => void;
  readonly reject: (err: unknown) => void;
}

/** Records taken from the queue per write; bounds the memory of one write call. */
const MAX_BATCH_RECORDS = 4_096;

export class AuditLog {
  readonly path: string;
  readonly #fs: AuditLogFs;
  readonly #clock: () => Date;
  readonly #log: Logger;
  readonly #fsync: AuditFsyncPolicy;
  readonly #fsyncIntervalMs: number;
  readonly #maxFileBytes: number;

  #file: AuditLogFile;
  /** Bytes in the active file, counting every write issued. */
  #size: number;
  /** The index the active file gets when it is rotated. */
  #nextRotationIndex: number;
  /** The chain as far as lines have been formatted (they are written in this order). */
  #tail: AuditChainHead;
  /** The chain as far as lines have been written. */
  #head: AuditChainHead;

  #queue: Pending[] = [];
  #pumping = false;
  #idle: Promise<void> = Promise.resolve();
  #markIdle: () => void = () => {};
  #closed = false;
  #failure: KeywardError | undefined;

  /** Written but not yet fsynced. */
  #dirty = false;
  #syncTimer: NodeJS.Timeout | undefined;
  /** An 'interval' fsync running beside the writer; rotation and close wait for it. */
  #backgroundSync: Promise<void> | undefined;
  #lastSyncAt = Number.NEGATIVE_INFINITY;

  private constructor(config: AuditLogConfig, options: AuditLogOptions, file: AuditLogFile, head: AuditChainHead, nextRotationIndex: number) {
    this.path = config.path;
    this.#fs = options.fs ?? nodeAuditLogFs;
    this.#clock = options.clock ?? (() => new Date());
    this.#log = options.logger ?? silentLogger;
    this.#fsync = config.fsync;
    this.#fsyncIntervalMs = config.fsync_interval_ms;
    this.#maxFileBytes = config.max_file_bytes;
    this.#file = file;
    this.#size = file.size;
    this.#tail = head;
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
    if (this.#closed) return Promise.reject(new KeywardError('failed-precondition', `audit log ${this.path} is closed`));
    if (this.#failure) return Promise.reject(this.#failure);
    let eventJson: string;
    try {
      eventJson = serializeAuditEvent(event);
    } catch (err) {
      return Promise.reject(err);
    }
    if (eventJson.length + 256 > AUDIT_MAX_LINE_BYTES) {
      return Promise.reject(KeywardError.invalidArgument(`an audit record may be at most ${AUDIT_MAX_LINE_BYTES} bytes`));
    }
    const time = this.#clock().toISOString();
    return new Promise<AuditChainHead>((resolve, reject) => {
      this.#queue.push({ eventJson, time, resolve, reject });
      this.#kick();
    });
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

  #kick(): void {
    if (this.#pumping) return;
    this.#pumping = true;
    this.#idle = new Promise<void>((resolve) => {
      this.#markIdle = resolve;
    });
    // On the next turn of the loop: the responses of this turn leave first, and the
    // records appended meanwhile go out in one write.
    setImmediate(() => void this.#pump());
  }

  /** The one writer: drains the queue batch by batch. */
  async #pump(): Promise<void> {
    for (;;) {
      if (this.#failure === undefined && this.#queue.length > 0) {
        const batch = this.#queue.splice(0, MAX_BATCH_RECORDS);
        try {
          const heads = await this.#writeBatch(batch);
          batch.forEach((p, i) => p.resolve(heads[i]!));
        } catch (err) {
          this.#fail(err, batch);
        }
        continue;
      }
      // Nothing left: stop in the same tick as the check, so a new append starts a new pump.
      this.#pumping = false;
      this.#markIdle();
      return;
    }
  }

  async #writeBatch(batch: readonly Pending[]): Promise<AuditChainHead[]> {
    const heads: AuditChainHead[] = [];
    let chunks: Buffer[] = [];
    let chunkBytes = 0;
    for (const p of batch) {
      const seq = this.#tail.seq + 1;
      const line = formatAuditLine(seq, p.time, this.#tail.hash, p.eventJson);
      if (this.#size + chunkBytes + line.byteLength > this.#maxFileBytes && this.#size + chunkBytes > 0) {
        await this.#write(chunks, chunkBytes);
        chunks = [];
        chunkBytes = 0;
        await this.#rotate();
      }
      chunks.push(line);
      chunkBytes += line.byteLength;
      this.#tail = { seq, hash: auditLineHash(line) };
      heads.push(this.#tail);
    }
    await this.#write(chunks, chunkBytes);
    if (this.#fsync === 'every-record') await this.#sync();
    else if (this.#fsync === 'interval') this.#scheduleSync();
    return heads;
  }

  async #write(chunks: Buffer[], bytes: number): Promise<void> {
    if (bytes === 0) return;
    const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, bytes);
    this.#size += bytes;
    this.#dirty = true;
    await this.#file.append(data);
    this.#head = this.#tail;
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

  #fail(err: unknown, batch: readonly Pending[]): void {
    this.#cancelSyncTimer();
    this.#failure ??= new KeywardError(
      'unavailable',
      `audit log ${this.path}: a write failed (${describe(err)}); the log accepts no more records until the daemon restarts and the file is checked`,
      { cause: err },
    );
    this.#log.error({ err, path: this.path }, 'audit log write failed');
    for (const p of [...batch, ...this.#queue.splice(0)]) p.reject(this.#failure);
  }
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
