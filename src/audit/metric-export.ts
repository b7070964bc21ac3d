// Builds the meter provider: OTLP metric export (gRPC or HTTP/protobuf) on an interval,
// and an optional Prometheus scrape endpoint (off by default). Metrics that keyward
// aggregates itself (e.g. keyward.rpc.duration) are MetricProducers given to every reader.
import { OTLPMetricExporter as GrpcMetricExporter } from '@opentelemetry/exporter-metrics-otlp-grpc';
import { OTLPMetricExporter as HttpMetricExporter } from '@opentelemetry/exporter-metrics-otlp-proto';
import { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricProducer, type MetricReader } from '@opentelemetry/sdk-metrics';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { hostname } from 'node:os';
import { grpcExporterOptions, httpExporterOptions, type OtlpConnection } from './otlp-connection.js';

export interface MetricExportSettings {
  readonly otlp?: { readonly protocol: 'grpc' | 'http'; readonly endpoint: string; readonly exportIntervalMs: number; readonly connection?: OtlpConnection };
  readonly prometheus?: { readonly host: string; readonly port: number };
}

function otlpReader(otlp: NonNullable<MetricExportSettings['otlp']>, metricProducers: MetricProducer[]): MetricReader {
  const exporter =
    otlp.protocol === 'http'
      ? new HttpMetricExporter(httpExporterOptions(otlp.endpoint, otlp.connection))
      : new GrpcMetricExporter(grpcExporterOptions(otlp.endpoint, otlp.connection));
  return new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: otlp.exportIntervalMs, metricProducers });
}

/** `producers`: metrics keyward aggregates itself, collected by every reader along with the SDK's. */
export function createMeterProvider(settings: MetricExportSettings, serviceVersion: string, producers: readonly MetricProducer[] = []): MeterProvider {
  const readers: MetricReader[] = [];
  if (settings.otlp) readers.push(otlpReader(settings.otlp, [...producers]));
  if (settings.prometheus) {
    const { host, port } = settings.prometheus;
    readers.push(new PrometheusExporter({ host, port, metricProducers: [...producers] }));
  }
  return new MeterProvider({
    resource: resourceFromAttributes({ [ATTR_SERVICE_NAME]: 'keyward', [ATTR_SERVICE_VERSION]: serviceVersion, 'host.name': hostname() }),
    readers,
  });
}
