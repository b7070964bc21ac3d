// Builds the meter provider: OTLP metric export (gRPC or HTTP/protobuf) on an interval,
// and an optional Prometheus scrape endpoint (off by default).
import { credentials } from '@grpc/grpc-js';
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { hostname } from 'node:os';

export interface MetricExportSettings {
  readonly otlp?: { readonly protocol: 'grpc' | 'http'; readonly endpoint: string; readonly exportIntervalMs: number };
  readonly prometheus?: { readonly host: string; readonly port: number };
}

function otlpReader(otlp: NonNullable<MetricExportSettings['otlp']>): MetricReader {
  const insecure = otlp.endpoint.startsWith('http://') || otlp.endpoint.startsWith('unix:');
  const exporter =
    otlp.protocol === 'http'
      ? new HttpMetricExporter({ url: otlp.endpoint })
      : new GrpcMetricExporter({ url: otlp.endpoint, ...(insecure ? { credentials: credentials.createInsecure() } : {}) });
  return new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: otlp.exportIntervalMs });
}

export function createMeterProvider(settings: MetricExportSettings, serviceVersion: string): MeterProvider {
  const readers: MetricReader[] = [];
  if (settings.otlp) readers.push(otlpReader(settings.otlp));
  if (settings.prometheus) readers.push(new PrometheusExporter({ host: settings.prometheus.host, port: settings.prometheus.port }));
  return new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'keyward', [ATTR_SERVICE_VERSION]: serviceVersion, 'host.name': hostname() }),
    readers,
  });
}
