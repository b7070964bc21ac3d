// The admin plane: keyward.v1.KeyAdminService served by connect-node on admin.sock
// (0600). One socket speaks gRPC (HTTP/2) and Connect JSON (HTTP/1.1 or HTTP/2): the
// first bytes of each connection say which, so `curl --unix-socket admin.sock` works
// without flags, and so does any gRPC client.
import { createContextValues } from '@connectrpc/connect';
import { connectNodeAdapter } from '@connectrpc/connect-node';
import { createServer as createHttp1Server, type Server as Http1Server } from 'node:http';
import { createServer as createHttp2Server, type Http2Server } from 'node:http2';
import { createServer as createNetServer, type Server as NetServer, type Socket } from 'node:net';
import type { CallObserver } from '../core/call-observer.js';
import type { CallerSource } from '../core/caller.js';
import type { Logger } from '../core/logger.js';
import type { KeyCatalog } from '../service/key-administration.js';
import type { EscrowDeps } from '../service/key-escrow.js';
import { connectionCallersKey, keyAdminRoutes } from './key-admin-routes.js';
import { acceptIdentified, callersOfSocket } from './peer-credentials.js';
import { closeUnixSocket, listenUnixSocket, type UnixSocketOptions } from './unix-socket-listener.js';

const HTTP2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const ADMIN_READ_MAX_BYTES = 1024 * 1024;

export interface AdminPlaneOptions {
  readonly socket: UnixSocketOptions;
  readonly registry: KeyCatalog;
  /** Key escrow and recovery (policy §7): the registry, the master key, lifecycle events. */
  readonly escrow: EscrowDeps;
  readonly logger: Logger;
  /** Sees every admin call (span, audit record: rotations are lifecycle events). */
  readonly observer: CallObserver;
  /** Identifies each connection's peer and authorizes its calls (key-admin, key-auditor). */
  readonly callers: CallerSource;
}

export class AdminPlaneServer {
  readonly #options: AdminPlaneOptions;
  readonly #http1: Http1Server;
  readonly #http2: Http2Server;
  readonly #net: NetServer;
  readonly #sockets = new Set<Socket>();

  constructor(options: AdminPlaneOptions) {
    this.#options = options;
    const handler = connectNodeAdapter({
      routes: keyAdminRoutes(options.registry, options.escrow, { log: options.logger, observer: options.observer }),
      // No response compression on either plane (design.md §8).
      acceptCompression: [],
      readMaxBytes: ADMIN_READ_MAX_BYTES,
      grpc: true,
      grpcWeb: true,
      connect: true,
      // HTTP/1.1 requests carry the socket itself; HTTP/2 ones a proxy that forwards to it.
      contextValues: (req) => createContextValues().set(connectionCallersKey, callersOfSocket(req.socket)),
    });
    this.#http1 = createHttp1Server(handler);
    this.#http2 = createHttp2Server(handler);
    this.#net = createNetServer((socket) => this.#route(socket));
  }

  get socketPath(): string {
    return this.#options.socket.path;
  }

  async start(): Promise<void> {
    await listenUnixSocket(this.#net, this.#options.socket);
  }

  /** Hands the connection to the HTTP/2 or HTTP/1.1 server by its first bytes. */
  #route(socket: Socket): void {
    const { callers, logger } = this.#options;
    if (!acceptIdentified(socket, { callers, plane: 'admin', logger, sockets: this.#sockets })) return;
    socket.once('readable', () => {
      const head: Buffer | null = socket.read();
      if (head === null) return;
      socket.unshift(head);
      const n = Math.min(head.byteLength, HTTP2_PREFACE.byteLength);
      const isHttp2 = head.subarray(0, n).equals(HTTP2_PREFACE.subarray(0, n));
      (isHttp2 ? this.#http2 : this.#http1).emit('connection', socket);
    });
  }

  async stop(graceMs: number): Promise<void> {
    await closeUnixSocket(this.#net, this.#options.socket.path);
    const closing = Promise.all([
      new Promise<void>((resolve) => this.#http2.close(() => resolve())),
      new Promise<void>((resolve) => this.#http1.close(() => resolve())),
    ]);
    this.#http1.closeIdleConnections();
    const timer = setTimeout(() => {
      for (const socket of this.#sockets) socket.destroy();
    }, graceMs);
    await Promise.race([closing, new Promise((resolve) => setTimeout(resolve, graceMs + 100))]);
    clearTimeout(timer);
    for (const socket of this.#sockets) socket.destroy();
  }
}
