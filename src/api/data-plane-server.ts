// The data plane: keyward.v1.KeyService and grpc.health.v1 served by grpc-js on
// keyward.sock. We accept connections on our own net.Server and inject them into
// grpc-js, so the socket file, its mode and the identity of each connection's peer
// (SO_PEERCRED + /proc, read at accept) stay in our hands.
import { Server, ServerCredentials, type ConnectionInjector } from '@grpc/grpc-js';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import type { CallObserver } from '../core/call-observer.js';
import type { CallerSource } from '../core/caller.js';
import type { KeyBackend } from '../core/key-backend.js';
import type { Logger } from '../core/logger.js';
import type { ServiceDeps } from '../service/service-deps.js';
import { MAX_ENVELOPE_OVERHEAD } from '../service/request-checks.js';
import { BackendHealth } from './backend-health.js';
import { keyServiceDefinition, keyServiceHandlers } from './key-service-routes.js';
import { acceptIdentified } from './peer-credentials.js';
import { closeUnixSocket, listenUnixSocket, type UnixSocketOptions } from './unix-socket-listener.js';

/** Room for protobuf framing around the largest allowed fields. */
const FRAMING_BYTES = 64 * 1024;

export interface DataPlaneOptions {
  readonly socket: UnixSocketOptions;
  readonly deps: ServiceDeps;
  readonly backends: readonly KeyBackend[];
  readonly logger: Logger;
  /** Sees every call (audit spans); a no-op when telemetry is off. */
  readonly observer: CallObserver;
  /** Identifies each connection's peer and authorizes its calls. */
  readonly callers: CallerSource;
}

/** The largest request the limits allow, so grpc-js refuses only what we would refuse. */
export function maxRequestBytes(deps: ServiceDeps): number {
  const { maxPlaintextBytes, maxAssociatedDataBytes, maxBatchBytes } = deps.limits;
  const single = maxPlaintextBytes + MAX_ENVELOPE_OVERHEAD + maxAssociatedDataBytes;
  return Math.max(single, maxBatchBytes + deps.limits.maxBatchItems * MAX_ENVELOPE_OVERHEAD) + FRAMING_BYTES;
}

export class DataPlaneServer {
  readonly #options: DataPlaneOptions;
  readonly #grpc: Server;
  readonly #health: BackendHealth;
  readonly #net: NetServer;
  readonly #injector: ConnectionInjector;
  readonly #sockets = new Set<Socket>();

  constructor(options: DataPlaneOptions) {
    this.#options = options;
    const maxBytes = maxRequestBytes(options.deps);
    this.#grpc = new Server({
      'grpc.max_receive_message_length': maxBytes,
      'grpc.max_send_message_length': maxBytes,
      // Never compress responses: plaintext next to attacker-influenced data would leak
      // through its length (design.md §8).
      'grpc.default_compression_algorithm': 0,
      // Bounds what one connection can have in flight (and so its buffered requests).
      'grpc.max_concurrent_streams': 256,
    });
    this.#grpc.addService(keyServiceDefinition(), keyServiceHandlers(options.deps, options.logger, options.observer));
    this.#health = new BackendHealth(options.backends);
    this.#health.addToServer(this.#grpc);
    this.#injector = this.#grpc.createConnectionInjector(ServerCredentials.createInsecure());
    this.#net = createServer({ allowHalfOpen: false }, (socket) => this.#accept(socket));
  }

  get socketPath(): string {
    return this.#options.socket.path;
  }

  async start(): Promise<void> {
    await listenUnixSocket(this.#net, this.#options.socket);
    this.#health.start();
  }

  #accept(socket: Socket): void {
    const { callers, logger } = this.#options;
    if (acceptIdentified(socket, { callers, plane: 'data', logger, sockets: this.#sockets })) this.#injector.injectConnection(socket);
  }

  /**
   * Stops accepting connections and calls, waits up to `graceMs` for in-flight calls,
   * then cuts off whatever is left, and removes the socket file.
   *
   * Not grpc-js's tryShutdown: it closes the injector's http2 server, and Node's
   * Http2Server.close() destroys that server's sessions with their streams in flight.
   * drain() closes each session gracefully (GOAWAY, streams run to completion) and
   * destroys what is left after the grace period.
   */
  async stop(graceMs: number): Promise<void> {
    this.#health.stop();
    await closeUnixSocket(this.#net, this.#options.socket.path);
    this.#injector.drain(graceMs);
    const allClosed = Promise.all(
      [...this.#sockets].map((socket) => new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve())))),
    );
    let timer: NodeJS.Timeout | undefined;
    const graceOver = new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(true), graceMs + 100)));
    const timedOut = await Promise.race([allClosed.then(() => false), graceOver]);
    clearTimeout(timer);
    if (timedOut) this.#options.logger.warn({ grace_ms: graceMs }, 'grace period over: cancelled calls still in flight');
    this.#grpc.forceShutdown();
    for (const socket of this.#sockets) socket.destroy();
  }
}
