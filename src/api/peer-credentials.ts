// The peer credentials of a connection on the data socket (SO_PEERCRED: pid, uid, gid),
// read once at accept through the native addon in native/peer-credentials, and attached
// to the socket so each call on that connection knows its peer.
import { createRequire } from 'node:module';
import type { Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { PeerCredentials } from '../service/call-context.js';

interface Addon {
  peerCredentials(fd: number): PeerCredentials;
}

const ADDON_PATH = fileURLToPath(new URL('../../../native/peer-credentials/build/Release/peer_credentials.node', import.meta.url));
const addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;

/** Where the credentials are kept on the socket (grpc-js's session proxy forwards it). */
export const PEER_CREDENTIALS = Symbol.for('keyward.peerCredentials');

/** Reads SO_PEERCRED of an accepted Unix socket, or undefined when it has no fd. */
export function readPeerCredentials(socket: Socket): PeerCredentials | undefined {
  const fd = (socket as unknown as { _handle?: { fd?: number } })._handle?.fd;
  if (typeof fd !== 'number' || fd < 0) return undefined;
  return addon.peerCredentials(fd);
}

/** The credentials attached to the connection of a grpc-js call, if any. */
export function peerOfCall(call: unknown): PeerCredentials | undefined {
  const stream = (call as { call?: { stream?: { session?: { socket?: Record<symbol, unknown> } } } }).call?.stream;
  return stream?.session?.socket?.[PEER_CREDENTIALS] as PeerCredentials | undefined;
}
