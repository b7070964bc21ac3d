// The OTLP exporters' settings as the configuration gives them — headers and TLS material
// read from the files and variables it names — for the daemon and for offline escrow
// recovery, which exports its lifecycle span to the same collector the same way.
import { readFileSync } from 'node:fs';
import type { OtlpConnection } from '../audit/otlp-connection.js';
import type { TraceExportSettings } from '../audit/trace-export.js';
import type { Config } from '../config/config-schema.js';
import { readSecretRef } from '../config/read-secret-ref.js';
import { KeywardError } from '../core/keyward-error.js';

/** The version reported in telemetry. */
export const KEYWARD_VERSION = '0.1.0';

type TraceSettings = NonNullable<Config['telemetry']['traces']>;
type OtlpSettings = TraceSettings | NonNullable<Config['telemetry']['metrics']>;

/** Headers and TLS material of an OTLP exporter, read from the files and variables named. */
export function otlpConnection(settings: OtlpSettings, where: string): OtlpConnection {
  const headers: Record<string, string> = {};
  for (const [name, ref] of Object.entries(settings.headers)) headers[name] = readSecretRef(ref, `${where}.headers.${name}`).toString('utf8').trim();
  const tls = settings.tls;
  if (tls === undefined) return { headers };
  const file = (path: string, field: string) => {
    try {
      return readFileSync(path);
    } catch (err) {
      throw new KeywardError('failed-precondition', `${where}.tls.${field}: cannot read ${path}`, { cause: err });
    }
  };
  return {
    headers,
    tls: {
      ...(tls.ca_file ? { ca: file(tls.ca_file, 'ca_file') } : {}),
      ...(tls.client_cert_file ? { cert: file(tls.client_cert_file, 'client_cert_file') } : {}),
      ...(tls.client_key ? { key: readSecretRef(tls.client_key, `${where}.tls.client_key`) } : {}),
      ...(tls.server_name ? { serverName: tls.server_name } : {}),
    },
  };
}

/** `telemetry.traces` as the trace exporter takes it. */
export function traceExportSettings(traces: TraceSettings): TraceExportSettings {
  return {
    protocol: traces.protocol,
    endpoint: traces.endpoint,
    exportIntervalMs: traces.export_interval_ms,
    maxQueueSize: traces.max_queue_size,
    connection: otlpConnection(traces, 'telemetry.traces'),
  };
}
