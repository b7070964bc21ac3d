// The TypeScript client SDK: typed promise clients for KeyService and KeyAdminService
// over a Unix socket, built on grpc-js with the same protobuf-es codec as the daemon.
// It imports only the generated code and the wire helpers.
import { create, type DescMessage, type DescService, type MessageInitShape, type MessageShape } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { KeyAdminService } from '../wire/gen/keyward/v1/key_admin_service_pb.js';
import { KeyService } from '../wire/gen/keyward/v1/key_service_pb.js';
import { grpcServiceDefinition } from '../wire/grpc-definition.js';
import { withDecodedDetails } from './status-details.js';

export interface CallOptions {
  /** Milliseconds until the call is abandoned with DEADLINE_EXCEEDED. */
  readonly timeoutMs?: number;
  readonly metadata?: Record<string, string>;
}

type UnaryMethod<I extends DescMessage, O extends DescMessage> = (
  request: MessageInitShape<I>,
  options?: CallOptions,
) => Promise<MessageShape<O>>;

/** One promise-returning method per unary RPC of the service. */
export type ServiceClient<S extends DescService> = {
  [K in keyof S['method']]: S['method'][K] extends { input: infer I extends DescMessage; output: infer O extends DescMessage }
    ? UnaryMethod<I, O>
    : never;
} & { close(): void };

export type KeyServiceClient = ServiceClient<typeof KeyService>;
export type KeyAdminClient = ServiceClient<typeof KeyAdminService>;

/** The default data socket: $KEYWARD_SOCKET, else the DaemonSet's host path. */
export const DEFAULT_SOCKET = process.env['KEYWARD_SOCKET'] ?? '/run/keyward/keyward.sock';
export const DEFAULT_ADMIN_SOCKET = process.env['KEYWARD_ADMIN_SOCKET'] ?? '/run/keyward/admin.sock';

function toMetadata(values: Record<string, string> | undefined): Metadata {
  const metadata = new Metadata();
  for (const [k, v] of Object.entries(values ?? {})) metadata.set(k, v);
  return metadata;
}

/**
 * A typed client of any service of ours on the Unix socket at `socketPath`. Errors of
 * KeyAdminService (served by connect-node) get their status message decoded in full.
 */
export function createServiceClient<S extends DescService>(
  service: S,
  socketPath: string,
  channelOptions: ChannelOptions = {},
): ServiceClient<S> {
  const decodeErrors = service.typeName === KeyAdminService.typeName;
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
    ...channelOptions,
  });
  const definition = grpcServiceDefinition(service);
  const methods: Record<string, unknown> = { close: () => client.close() };
  for (const method of service.methods) {
    const def = definition[method.localName]!;
    methods[method.localName] = (request: MessageInitShape<DescMessage>, options: CallOptions = {}) =>
      new Promise((resolve, reject) => {
        const deadline = options.timeoutMs === undefined ? Infinity : Date.now() + options.timeoutMs;
        client.makeUnaryRequest(
          def.path,
          def.requestSerialize,
          def.responseDeserialize,
          create(method.input, request),
          toMetadata(options.metadata),
          { deadline },
          (err: ServiceError | null, response?: unknown) => (err ? reject(decodeErrors ? withDecodedDetails(err) : err) : resolve(response)),
        );
      });
  }
  return methods as ServiceClient<S>;
}

export function createKeyServiceClient(socketPath = DEFAULT_SOCKET, channelOptions?: ChannelOptions): KeyServiceClient {
  return createServiceClient(KeyService, socketPath, channelOptions);
}

export function createKeyAdminClient(socketPath = DEFAULT_ADMIN_SOCKET, channelOptions?: ChannelOptions): KeyAdminClient {
  return createServiceClient(KeyAdminService, socketPath, channelOptions);
}
