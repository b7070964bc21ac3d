// A test OTLP/gRPC receiver: opentelemetry.proto.collector.trace.v1.TraceService/Export
// and ...metrics.v1.MetricsService/Export on @grpc/grpc-js, on 127.0.0.1 or a Unix
// socket, with the messages decoded by the protobuf-es code generated from the
// opentelemetry-proto definitions (the same codec bridge the daemon uses,
// src/wire/grpc-definition.ts). It can be stopped and started again on the same address
// (a collector outage), or made to fail every export with a gRPC status.
import { create, fromBinary, type DescMessage, type DescService, type MessageShape } from '@bufbuild/protobuf';
import {
  Server,
  ServerCredentials,
  status,
  type Metadata,
  type MethodDefinition,
  type sendUnaryData,
  type ServerUnaryCall,
  type ServiceDefinition,
} from '@grpc/grpc-js';
import { grpcServiceDefinition } from '../../../src/wire/grpc-definition.js';
import {
  ExportMetricsServiceResponseSchema,
  MetricsService,
  type ExportMetricsServiceRequest,
  type ExportMetricsServiceResponse,
} from './gen/opentelemetry/proto/collector/metrics/v1/metrics_service_pb.js';
import {
  ExportTraceServiceResponseSchema,
  TraceService,
  type ExportTraceServiceRequest,
  type ExportTraceServiceResponse,
} from './gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';
import { OtlpStore } from './otlp-store.js';

/** The request bytes as received, by decoded message (for leak scans of the exact wire bytes). */
const wireBytes = new WeakMap<object, Uint8Array>();

/** grpcServiceDefinition, with a request decoder that also keeps the request's bytes. */
function definitionKeepingBytes(service: DescService): ServiceDefinition {
  const definition = grpcServiceDefinition(service) as Record<string, MethodDefinition<unknown, unknown>>;
  for (const method of service.methods) {
    const entry = definition[method.localName]!;
    const schema: DescMessage = method.input;
    definition[method.localName] = {
      ...entry,
      requestDeserialize: (buf: Buffer) => {
        const message = fromBinary(schema, buf) as MessageShape<DescMessage>;
        wireBytes.set(message, new Uint8Array(buf));
        return message;
      },
    };
  }
  return definition;
}

export interface OtlpGrpcReceiverOptions {
  /** Listen on 127.0.0.1 and this port (default: a free one, kept across restarts). */
  readonly port?: number;
  /** Serve TLS with this certificate and key (PEM) instead of plaintext. */
  readonly tls?: { readonly cert: Buffer; readonly key: Buffer };
  /** Listen on a Unix socket instead (an absolute path). */
  readonly socketPath?: string;
}

export class OtlpGrpcReceiver {
  readonly store = new OtlpStore();
  /** Exports answered with the injected failure. */
  refusedCount = 0;
  #server: Server | undefined;
  #port: number;
  readonly #socketPath: string | undefined;
  readonly #tls: { readonly cert: Buffer; readonly key: Buffer } | undefined;
  #failure: { code: status; message: string } | undefined;

  private constructor(options: OtlpGrpcReceiverOptions) {
    this.#port = options.port ?? 0;
    this.#socketPath = options.socketPath;
    this.#tls = options.tls;
  }

  static async start(options: OtlpGrpcReceiverOptions = {}): Promise<OtlpGrpcReceiver> {
    const receiver = new OtlpGrpcReceiver(options);
    await receiver.start();
    return receiver;
  }

  /**
   * The exporter's `url`: http://127.0.0.1:PORT, or unix:///path for a socket (pass
   * insecure credentials then: the exporter only infers them for http:// URLs).
   */
  get url(): string {
    if (this.#tls !== undefined) return `https://127.0.0.1:${this.#port}`;
    return this.#socketPath !== undefined ? `unix://${this.#socketPath}` : `http://127.0.0.1:${this.#port}`;
  }

  get running(): boolean {
    return this.#server !== undefined;
  }

  async start(): Promise<void> {
    if (this.#server) return;
    const server = new Server();
    server.addService(definitionKeepingBytes(TraceService), {
      export: (call: ServerUnaryCall<ExportTraceServiceRequest, ExportTraceServiceResponse>, callback: sendUnaryData<ExportTraceServiceResponse>) => {
        if (this.#refuse(callback)) return;
        this.store.addTraces(call.request, received(call.metadata, call.request));
        callback(null, create(ExportTraceServiceResponseSchema));
      },
    });
    server.addService(definitionKeepingBytes(MetricsService), {
      export: (call: ServerUnaryCall<ExportMetricsServiceRequest, ExportMetricsServiceResponse>, callback: sendUnaryData<ExportMetricsServiceResponse>) => {
        if (this.#refuse(callback)) return;
        this.store.addMetrics(call.request, received(call.metadata, call.request));
        callback(null, create(ExportMetricsServiceResponseSchema));
      },
    });
    const address = this.#socketPath !== undefined ? `unix:${this.#socketPath}` : `127.0.0.1:${this.#port}`;
    const port = await new Promise<number>((resolve, reject) =>
      server.bindAsync(
        address,
        this.#tls ? ServerCredentials.createSsl(null, [{ cert_chain: this.#tls.cert, private_key: this.#tls.key }]) : ServerCredentials.createInsecure(),
        (err, p) => (err ? reject(err) : resolve(p)),
      ),
    );
    if (this.#socketPath === undefined) this.#port = port;
    this.#server = server;
  }

  /** Stops at once, cancelling calls in flight, as a crashed collector would. */
  async stop(): Promise<void> {
    const server = this.#server;
    if (!server) return;
    this.#server = undefined;
    server.forceShutdown();
  }

  /** Answers every export with this gRPC status from now on (undefined: accept again). */
  failWith(code: status | undefined, message = 'injected failure'): void {
    this.#failure = code === undefined ? undefined : { code, message };
  }

  #refuse(callback: sendUnaryData<never>): boolean {
    if (!this.#failure) return false;
    this.refusedCount += 1;
    callback({ code: this.#failure.code, details: this.#failure.message });
    return true;
  }
}

function received(metadata: Metadata, request: object) {
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(metadata.toJSON())) headers[name] = values.map(String).join(', ');
  return { transport: 'grpc' as const, headers, body: wireBytes.get(request) ?? new Uint8Array() };
}
