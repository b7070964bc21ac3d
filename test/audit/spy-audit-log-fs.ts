// A file layer for the audit log tests: the real one (nodeAuditLogFs) underneath, with
// counters of writes, fsyncs and directory fsyncs, the bytes written and the bytes known
// durable, and an optional fault (the n-th append fails), so the fsync policies and the
// failure path can be checked against what actually reached the "disk".
import { nodeAuditLogFs, type AuditLogFile, type AuditLogFs } from '../../src/audit/audit-log-fs.js';

export class SpyAuditLogFs implements AuditLogFs {
  appends = 0;
  syncs = 0;
  dirSyncs = 0;
  /** Bytes appended so far, over every file. */
  writtenBytes = 0;
  /** writtenBytes as of the start of the last completed fsync. */
  syncedBytes = 0;
  /** The order of operations: 'append', 'sync', 'close', 'link', 'unlink', 'syncDir'. */
  readonly ops: string[] = [];
  /** When set, the append with this 1-based number throws. */
  failAppendNumber: number | undefined;
  /** Extra time each fsync takes (a slow disk). */
  syncDelayMs = 0;
  /** performance.now() at the start of each fsync. */
  readonly syncStarts: number[] = [];
  /** fsyncs started and not yet finished. */
  syncsInFlight = 0;

  constructor(private readonly real: AuditLogFs = nodeAuditLogFs) {}

  async open(path: string, how: 'append' | 'read', mode?: number): Promise<AuditLogFile> {
    const file = await this.real.open(path, how, mode);
    const spy = this;
    return {
      size: file.size,
      async append(data) {
        spy.appends += 1;
        spy.ops.push('append');
        if (spy.failAppendNumber === spy.appends) throw Object.assign(new Error('ENOSPC: no space left on device (injected)'), { code: 'ENOSPC' });
        await file.append(data);
        spy.writtenBytes += data.byteLength;
      },
      read: (position, length) => file.read(position, length),
      async sync() {
        const covered = spy.writtenBytes;
        spy.syncStarts.push(performance.now());
        spy.syncsInFlight += 1;
        try {
          if (spy.syncDelayMs > 0) await new Promise((res) => setTimeout(res, spy.syncDelayMs));
          await file.sync();
        } finally {
          spy.syncsInFlight -= 1;
        }
        spy.syncs += 1;
        spy.ops.push('sync');
        spy.syncedBytes = Math.max(spy.syncedBytes, covered);
      },
      async close() {
        spy.ops.push('close');
        await file.close();
      },
    };
  }

  stat(path: string) {
    return this.real.stat(path);
  }

  readdir(dir: string) {
    return this.real.readdir(dir);
  }

  async link(existingPath: string, newPath: string) {
    this.ops.push('link');
    await this.real.link(existingPath, newPath);
  }

  async unlink(path: string) {
    this.ops.push('unlink');
    await this.real.unlink(path);
  }

  async syncDir(dir: string) {
    this.dirSyncs += 1;
    this.ops.push('syncDir');
    await this.real.syncDir(dir);
  }
}
