// The connection options both OTLP exporters (traces, metrics) share: extra headers
// (gRPC metadata) and TLS (CA, client certificate, server name), already read from
// their files by the composition root.
import { credentials, Metadata, type ChannelCredentials } from '@grpc/grpc-js';
import { checkServerIdentity } from 'node:tls';

export interface OtlpConnection {
  readonly headers: Readonly<Record<string, string>>;
  readonly tls?: { readonly ca?: Buffer; readonly cert?: Buffer; readonly key?: Buffer; readonly serverName?: string };
}

/** Options for the HTTP/protobuf exporters. */
export function httpExporterOptions(url: string, connection: OtlpConnection | undefined) {
  const tls = connection?.tls;
  return {
    url,
    headers: { ...(connection?.headers ?? {}) },
    ...(tls
      ? { httpAgentOptions: { ...(tls.ca ? { ca: tls.ca } : {}), ...(tls.cert ? { cert: tls.cert } : {}), ...(tls.key ? { key: tls.key } : {}), ...(tls.serverName ? { servername: tls.serverName } : {}) } }
      : {}),
  };
}

/** Options for the gRPC exporters: metadata, and TLS unless the endpoint is plaintext. */
export function grpcExporterOptions(url: string, connection: OtlpConnection | undefined) {
  const metadata = new Metadata();
  for (const [name, value] of Object.entries(connection?.headers ?? {})) metadata.set(name, value);
  const tls = connection?.tls;
  let channel: ChannelCredentials | undefined;
  if (tls) {
    channel = credentials.createSsl(tls.ca ?? null, tls.key ?? null, tls.cert ?? null, {
      // The certificate must name server_name (e.g. when the endpoint is an IP address).
      ...(tls.serverName ? { checkServerIdentity: (_host: string, cert: Parameters<typeof checkServerIdentity>[1]) => checkServerIdentity(tls.serverName!, cert) } : {}),
    });
  } else if (url.startsWith('http://') || url.startsWith('unix:')) {
    // grpc-js assumes TLS for anything but http://; a Unix socket to a local collector is plaintext.
    channel = credentials.createInsecure();
  }
  return { url, metadata, ...(channel ? { credentials: channel } : {}) };
}
