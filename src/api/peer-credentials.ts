// The peer of a connection on either socket: SO_PEERCRED (pid, uid, gid) read once at
// accept through the native addon in native/peer-credentials, turned into the
// connection's callers by the authz layer and attached to the socket, so each call on
// that connection knows who makes it.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { CallerSource, ConnectionCallers, PeerCredentials, PeerProcess } from '../core/caller.js';
import type { Logger } from '../core/logger.js';

interface Addon {
  peerCredentials(fd: number): PeerCredentials;
  /** A pidfd of the connecting process, or -1 (kernel before 6.5). */
  peerPidfd(fd: number): number;
  pidfdExited(pidfd: number): boolean;
  closeFd(fd: number): void;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/peer-credentials/build/Release/peer_credentials.node', import.meta.url));
const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;

/** Where the connection's callers are kept on the socket (grpc-js's and http2's session proxies forward it). */
const CONNECTION_CALLERS = Symbol.for('keyward.connectionCallers');

function socketFd(socket: Socket): number | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  return typeof fd === 'number' && fd >= 0 ? fd : undefined;
}

/** Reads SO_PEERCRED of an accepted Unix socket, or undefined when it has no fd. */
export function readPeerCredentials(socket: Socket): PeerCredentials | undefined {
  const fd = socketFd(socket);
  return fd === undefined ? undefined : addon.peerCredentials(fd);
}

/** The connecting process as a pidfd, closed with the socket; undefined when the kernel has none. */
function peerProcess(socket: Socket): PeerProcess | undefined {
  const fd = socketFd(socket);
  const pidfd = fd === undefined ? -1 : addon.peerPidfd(fd);
  if (pidfd < 0) return undefined;
  // After the close its number may belong to another connection's pidfd: from then on
  // the answer is "exited", never a question about whatever the number means now.
  let closed = false;
  socket.once('close', () => {
    closed = true;
    addon.closeFd(pidfd);
  });
  return { exited: () => closed || addon.pidfdExited(pidfd) };
}

/** What accepting a connection on either socket needs. */
export interface AcceptOptions {
  readonly callers: CallerSource;
  readonly plane: 'data' | 'admin';
  readonly logger: Logger;
  /** The plane's open connections, kept for shutdown. */
  readonly sockets: Set<Socket>;
}

/**
 * Identifies the peer of a freshly accepted socket and attaches its callers; a peer that
 * cannot be identified is not served (the socket is destroyed, false is returned).
 */
export function acceptIdentified(socket: Socket, options: AcceptOptions): boolean {
  try {
    const peer = readPeerCredentials(socket);
    if (peer === undefined) throw new Error('the socket has no file descriptor to read SO_PEERCRED from');
    (socket as unknown as Record<symbol, unknown>)[CONNECTION_CALLERS] = options.callers.connect(peer, options.plane, peerProcess(socket));
  } catch (err) {
    options.logger.warn({ err: String(err), cause: String((err as Error).cause ?? '') }, 'connection refused: peer not identified');
    socket.destroy();
    return false;
  }
  options.sockets.add(socket);
  socket.once('close', () => options.sockets.delete(socket));
  return true;
}

/** The callers attached to a socket (or to the proxy http2 puts in front of it). */
export function callersOfSocket(socket: unknown): ConnectionCallers | undefined {
  return (socket as Record<symbol, unknown> | undefined)?.[CONNECTION_CALLERS] as ConnectionCallers | undefined;
}

/** The callers of the connection a grpc-js call arrived on. */
export function callersOfCall(call: unknown): ConnectionCallers | undefined {
  return callersOfSocket((call as { call?: { stream?: { session?: { socket?: unknown } } } }).call?.stream?.session?.socket);
}
