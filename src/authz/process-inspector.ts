// What /proc tells about a caller's process: its start time, executable and container.
// The start time identifies a process across pid reuse: the daemon records it when a
// connection is accepted and compares it after each RPC, so it is read synchronously
// into a reusable buffer. Policy rules match on the executable and container.
import { closeSync, openSync, readFileSync, readlinkSync, readSync } from 'node:fs';
import { KeywardError } from '../core/keyward-error.js';
import { parseCgroup } from './cgroup-identity.js';

export interface ProcessFacts {
  /** Start time of the process in clock ticks since boot (field 22 of /proc/<pid>/stat). */
  readonly startTime: bigint;
  /** readlink of /proc/<pid>/exe; absent when it cannot be read (EACCES when the daemon is not root, kernel threads). */
  readonly exe?: string;
  readonly containerId?: string;
  readonly podUid?: string;
  /**
   * Whether `exe` names a file as the daemon sees it: the process shares the daemon's
   * mount namespace (/proc/<pid>/ns/mnt). In another namespace the path is the caller's
   * own — a container image or an unprivileged user namespace can put any binary there.
   */
  readonly exeInDaemonNamespace: boolean;
  /** The effective uid in /proc/<pid>/status (to cross-check SO_PEERCRED). */
  readonly uid?: number;
}

/** Ample for /proc/<pid>/stat: 52 numeric fields and a comm of at most 64 bytes. */
const STAT_BUFFER_SIZE = 2048;

export class ProcessInspector {
  readonly #procRoot: string;
  readonly #statBuffer = Buffer.alloc(STAT_BUFFER_SIZE);
  /** The daemon's own mount namespace, read at the first inspection. */
  #ownMountNamespace: string | undefined | null = null;

  constructor(procRoot = '/proc') {
    this.#procRoot = procRoot;
  }

  #ownNamespace(): string | undefined {
    if (this.#ownMountNamespace === null) this.#ownMountNamespace = readOrAbsent(() => readlinkSync(this.#path(process.pid, 'ns/mnt')));
    return this.#ownMountNamespace;
  }

  /**
   * Everything known of the process, or undefined when it does not exist (any more).
   * Guards against pid reuse during the read: reads the start time before and after exe
   * and cgroup, and returns undefined if they differ.
   */
  inspect(pid: number): ProcessFacts | undefined {
    const before = this.startTime(pid);
    if (before === undefined) return undefined;
    const exe = readOrAbsent(() => readlinkSync(this.#path(pid, 'exe')));
    const mountNamespace = readOrAbsent(() => readlinkSync(this.#path(pid, 'ns/mnt')));
    const cgroup = readOrAbsent(() => readFileSync(this.#path(pid, 'cgroup'), 'utf8'));
    const status = readOrAbsent(() => readFileSync(this.#path(pid, 'status'), 'latin1'));
    if (this.startTime(pid) !== before) return undefined;
    const uid = status === undefined ? undefined : effectiveUid(status);
    return {
      startTime: before,
      ...(exe !== undefined && { exe }),
      exeInDaemonNamespace: mountNamespace !== undefined && mountNamespace === this.#ownNamespace(),
      ...(uid !== undefined && { uid }),
      ...(cgroup !== undefined && parseCgroup(cgroup)),
    };
  }

  /** The start time only, fast (called after every RPC). undefined when the process is gone. */
  startTime(pid: number): bigint | undefined {
    const path = this.#path(pid, 'stat');
    const length = readOrAbsent(() => this.#readStat(path));
    if (length === undefined) return undefined;
    const stat = this.#statBuffer.toString('latin1', 0, length);
    // comm (field 2) is in parentheses and may itself hold spaces and ')': fields 3
    // onwards start after the last ')', so field 22 is the 20th of them.
    const afterComm = stat.lastIndexOf(')');
    if (afterComm < 0) return undefined;
    const field22 = stat.slice(afterComm + 2).split(' ', 20)[19];
    return field22 !== undefined && /^\d+$/.test(field22) ? BigInt(field22) : undefined;
  }

  #path(pid: number, file: string): string {
    if (!Number.isSafeInteger(pid) || pid <= 0) throw KeywardError.invalidArgument(`invalid pid ${pid}`);
    return `${this.#procRoot}/${pid}/${file}`;
  }

  /** Reads the stat file into the reusable buffer; returns the number of bytes read. */
  #readStat(path: string): number {
    const fd = openSync(path, 'r');
    try {
      let length = 0;
      let n: number;
      do {
        n = readSync(fd, this.#statBuffer, length, STAT_BUFFER_SIZE - length, null);
        length += n;
      } while (n > 0 && length < STAT_BUFFER_SIZE);
      return length;
    } finally {
      closeSync(fd);
    }
  }
}

/** The second (effective) id of the "Uid:" line of /proc/<pid>/status. */
function effectiveUid(status: string): number | undefined {
  const match = /^Uid:\s+\d+\s+(\d+)/m.exec(status);
  return match ? Number(match[1]) : undefined;
}

/**
 * The result of `read`, or undefined when it failed with an errno error: the process is
 * gone (ENOENT, ESRCH) or its file is not readable (EACCES). Anything else is a bug and
 * is rethrown.
 */
function readOrAbsent<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (err) {
    if (isErrnoError(err)) return undefined;
    throw err;
  }
}

function isErrnoError(err: unknown): err is NodeJS.ErrnoException {
  return err instanceof Error && typeof (err as NodeJS.ErrnoException).code === 'string' && typeof (err as NodeJS.ErrnoException).errno === 'number';
}
