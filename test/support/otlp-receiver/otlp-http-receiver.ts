// A test OTLP/HTTP receiver (binary protobuf): POST /v1/traces and /v1/metrics with
// content-type application/x-protobuf (optionally gzip-encoded), decoded with the
// protobuf-es code generated from the opentelemetry-proto definitions, answered with an
// ExportTraceServiceResponse / ExportMetricsServiceResponse as the OTLP spec says. It
// can be stopped and started again on the same address (a collector outage), or made to
// fail every export with a status (a collector that refuses).
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { gunzipSync } from 'node:zlib';
import {
  ExportMetricsServiceRequestSchema,
  ExportMetricsServiceResponseSchema,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import { ExportTraceServiceRequestSchema, ExportTraceServiceResponseSchema } from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { OtlpStore } from './otlp-store.js';

export interface OtlpHttpReceiverOptions {
  /** Listen on 127.0.0.1 and this port (default: a free one, kept across restarts). */
  readonly port?: number;
  /** Listen on a Unix socket instead. */
  readonly socketPath?: string;
  /** Largest request body accepted (default 16 MiB); larger gets 413. */
  readonly maxBodyBytes?: number;
}

const PROTOBUF = 'application/x-protobuf';

export class OtlpHttpReceiver {
  readonly store = new OtlpStore();
  /** Requests refused (wrong path, method, content type, undecodable body, injected failure). */
  readonly refused: { readonly path: string; readonly status: number; readonly why: string }[] = [];
  #server: Server | undefined;
  #port: number;
  readonly #socketPath: string | undefined;
  readonly #maxBodyBytes: number;
  #failure: { status: number; message: string } | undefined;

  private constructor(options: OtlpHttpReceiverOptions) {
    this.#port = options.port ?? 0;
    this.#socketPath = options.socketPath;
    this.#maxBodyBytes = options.maxBodyBytes ?? 16 * 1024 * 1024;
  }

  /** A started receiver. */
  static async start(options: OtlpHttpReceiverOptions = {}): Promise<OtlpHttpReceiver> {
    const receiver = new OtlpHttpReceiver(options);
    await receiver.start();
    return receiver;
  }

  /** http://127.0.0.1:PORT (the exporter's base URL; signals add /v1/traces, /v1/metrics). */
  get baseUrl(): string {
    if (this.#socketPath !== undefined) throw new Error('this receiver listens on a Unix socket; use socketPath');
    return `http://127.0.0.1:${this.#port}`;
  }

  get tracesUrl(): string {
    return `${this.baseUrl}/v1/traces`;
  }

  get metricsUrl(): string {
    return `${this.baseUrl}/v1/metrics`;
  }

  get socketPath(): string | undefined {
    return this.#socketPath;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  /** Listens again (same port or socket as before). */
  async start(): Promise<void> {
    if (this.#server) return;
    const server = createServer((req, res) => this.#handle(req, res));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      if (this.#socketPath !== undefined) server.listen(this.#socketPath, resolve);
      else server.listen(this.#port, '127.0.0.1', resolve);
    });
    if (this.#socketPath === undefined) this.#port = (server.address() as AddressInfo).port;
    this.#server = server;
  }

  /** Stops listening and drops every connection at once, as a crashed collector would. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
  }

  /** Answers every export with this HTTP status from now on (undefined: accept again). */
  failWith(status: number | undefined, message = 'injected failure'): void {
    this.#failure = status === undefined ? undefined : { status, message };
  }

  #refuse(req: IncomingMessage, res: ServerResponse, status: number, why: string): void {
    this.refused.push({ path: req.url ?? '', status, why });
    res.writeHead(status, { 'content-type': 'text/plain' });
    res.end(why);
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    const signal = path === '/v1/traces' ? 'traces' : path === '/v1/metrics' ? 'metrics' : undefined;
    if (signal === undefined) return this.#refuse(req, res, 404, `no OTLP endpoint at ${path}`);
    if (req.method !== 'POST') return this.#refuse(req, res, 405, 'OTLP/HTTP takes POST');
    const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim();
    if (contentType !== PROTOBUF) return this.#refuse(req, res, 415, `this receiver takes ${PROTOBUF}, not ${contentType || 'nothing'}`);

    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (chunk: Buffer) => {
      size += chunk.byteLength;
      if (size <= this.#maxBodyBytes) chunks.push(chunk);
    });
    req.on('end', () => {
      if (size > this.#maxBodyBytes) return this.#refuse(req, res, 413, 'request body too large');
      if (this.#failure) return this.#refuse(req, res, this.#failure.status, this.#failure.message);
      let body: Buffer = Buffer.concat(chunks);
      try {
        const encoding = req.headers['content-encoding'];
        if (encoding === 'gzip') body = gunzipSync(body);
        else if (encoding !== undefined && encoding !== 'identity') return this.#refuse(req, res, 415, `unsupported content-encoding ${encoding}`);
        const received = { transport: 'http' as const, headers: headersOf(req), body: new Uint8Array(body) };
        let response: Uint8Array;
        if (signal === 'traces') {
          this.store.addTraces(fromBinary(ExportTraceServiceRequestSchema, body), received);
          response = toBinary(ExportTraceServiceResponseSchema, create(ExportTraceServiceResponseSchema));
        } else {
          this.store.addMetrics(fromBinary(ExportMetricsServiceRequestSchema, body), received);
          response = toBinary(ExportMetricsServiceResponseSchema, create(ExportMetricsServiceResponseSchema));
        }
        res.writeHead(200, { 'content-type': PROTOBUF, 'content-length': response.byteLength });
        res.end(response);
      } catch (err) {
        this.#refuse(req, res, 400, `undecodable ${signal} export: ${(err as Error).message}`);
      }
    });
  }
}

function headersOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) out[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}
