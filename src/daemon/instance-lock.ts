// One keyward process at a time writes a configuration's keystore and audit log: the
// daemon for its whole life, or `keyward keys escrow-recover` for its run. Two writers
// would fork the audit log's hash chain (both resume from the same last record) and race
// on key files. The lock is a Linux abstract-namespace Unix socket named after the data
// socket path: bind(2) refuses a second holder, and the kernel releases it when the
// holder exits, so a crash never leaves a stale lock. It is taken before anything is
// opened — the daemon opens the audit log and backends before its sockets listen.
// Abstract sockets are per network namespace: processes of one pod (one host network)
// share them.
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { resolve } from 'node:path';
import { KeywardError } from '../core/keyward-error.js';

/** The abstract socket name of the lock of a data socket path. */
export function instanceLockName(dataSocketPath: string): string {
  return `\0keyward-lock-${createHash('sha256').update(resolve(dataSocketPath)).digest('hex').slice(0, 40)}`;
}

export class InstanceLock {
  readonly #server: Server;

  private constructor(server: Server) {
    this.#server = server;
  }

  /** Takes the lock of `dataSocketPath`, or throws already-exists when another process holds it. */
  static acquire(dataSocketPath: string): Promise<InstanceLock> {
    const server = createServer((socket) => socket.destroy());
    return new Promise((resolvePromise, reject) => {
      server.once('error', (err: NodeJS.ErrnoException) => {
        if (err.code === 'EADDRINUSE') {
          reject(
            new KeywardError(
              'already-exists',
              `another keyward process (a daemon, or keys escrow-recover) holds the lock of ${dataSocketPath}; is keyward already running?`,
            ),
          );
        } else {
          reject(new KeywardError('failed-precondition', `cannot take the instance lock of ${dataSocketPath} (${err.code ?? err.message})`, { cause: err }));
        }
      });
      server.listen(instanceLockName(dataSocketPath), () => {
        server.removeAllListeners('error');
        server.unref();
        resolvePromise(new InstanceLock(server));
      });
    });
  }

  /** Gives the lock up (also given up when the process exits). */
  release(): Promise<void> {
    return new Promise((resolvePromise) => this.#server.close(() => resolvePromise()));
  }
}
