// Listening on a Unix socket the way a daemon must: a stale socket file left by a dead
// process is replaced, a live daemon behind the path is refused, the socket is created
// with its final mode (no window with looser permissions), and it is removed on close.
import { promises as fs, readFileSync } from 'node:fs';
import { connect, type Server } from 'node:net';
import { dirname } from 'node:path';
import { KeywardError } from '../core/keyward-error.js';

export interface UnixSocketOptions {
  readonly path: string;
  readonly mode: number;
  /** Group name or gid to own the socket. */
  readonly group?: string | number;
}

function resolveGid(group: string | number): number {
  if (typeof group === 'number') return group;
  if (/^\d+$/.test(group)) return Number.parseInt(group, 10);
  const line = readFileSync('/etc/group', 'utf8')
    .split('\n')
    .find((l) => l.split(':')[0] === group);
  const gid = line?.split(':')[2];
  if (gid === undefined) throw new KeywardError('failed-precondition', `socket group "${group}" does not exist`);
  return Number.parseInt(gid, 10);
}

/** Errors of connect(2) that say nobody listens on the path. */
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED']);

/**
 * Resolves true when a process accepts connections on the Unix socket `path`, false when
 * nobody listens there (no file, or a file left by a dead process); rejects with the
 * connect error otherwise (e.g. EACCES: whether anyone listens cannot be told).
 */
export function socketAccepts(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const probe = connect(path);
    probe.once('connect', () => {
      probe.destroy();
      resolve(true);
    });
    probe.once('error', (err: NodeJS.ErrnoException) => {
      probe.destroy();
      if (NOT_LISTENING.has(err.code ?? '')) resolve(false);
      else reject(err);
    });
  });
}

async function clearStaleSocket(path: string): Promise<void> {
  let stat;
  try {
    stat = await fs.lstat(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  if (!stat.isSocket()) {
    throw new KeywardError('failed-precondition', `${path} exists and is not a socket; refusing to replace it`);
  }
  if (await socketAccepts(path).catch(() => false)) {
    throw new KeywardError('already-exists', `another process is serving on ${path}; is keyward already running?`);
  }
  await fs.rm(path, { force: true });
}

/** Binds `server` to the socket path with the given mode and group. */
export async function listenUnixSocket(server: Server, options: UnixSocketOptions): Promise<void> {
  await fs.mkdir(dirname(options.path), { recursive: true, mode: 0o755 });
  await clearStaleSocket(options.path);
  // The socket takes its mode from the umask at bind(2), which listen() calls
  // synchronously: set it for that instant so the file is never looser than `mode`.
  const previous = process.umask(0o777 & ~options.mode);
  try {
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.path, () => {
        server.off('error', reject);
        resolve();
      });
    });
  } finally {
    process.umask(previous);
  }
  await fs.chmod(options.path, options.mode);
  if (options.group !== undefined) await fs.chown(options.path, -1, resolveGid(options.group));
}

/**
 * Stops accepting connections and removes the socket file — only when this server was
 * listening on it: a daemon that failed to start must not remove a live daemon's socket.
 */
export async function closeUnixSocket(server: Server, path: string): Promise<void> {
  if (!server.listening) return;
  // close() stops accepting; existing connections are drained by their owner, so do
  // not wait for the 'close' event (it fires only once they are all gone).
  server.close();
  await fs.rm(path, { force: true });
}
