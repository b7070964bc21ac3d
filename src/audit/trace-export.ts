// Builds the OpenTelemetry tracer provider the daemon exports its call spans with:
// OTLP over gRPC (TCP or a Unix socket to a node-local collector) or HTTP/protobuf,
// batched so a span leaves within the configured interval, with a bounded queue so a
// collector outage never blocks or grows the daemon.
import { OTLPTraceExporter as GrpcTraceExporter } from '@opentelemetry/exporter-trace-otlp-grpc';
import { OTLPTraceExporter as HttpTraceExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, TracerProvider, type SpanExporter } from '@opentelemetry/sdk-trace';
import { ATTR_SERVICE_NAME, ATTR_SERVICE_VERSION } from '@opentelemetry/semantic-conventions';
import { hostname } from 'node:os';
import { grpcExporterOptions, httpExporterOptions, type OtlpConnection } from './otlp-connection.js';
import { BoundedSpanProcessor, CountingSpanExporter, SpanExportStats } from './span-export-accounting.js';

export interface TraceExportSettings {
  readonly protocol: 'grpc' | 'http';
  readonly endpoint: string;
  readonly exportIntervalMs: number;
  readonly maxQueueSize: number;
  readonly connection?: OtlpConnection;
}

function exporterFor(settings: TraceExportSettings): SpanExporter {
  if (settings.protocol === 'http') return new HttpTraceExporter(httpExporterOptions(settings.endpoint, settings.connection));
  return new GrpcTraceExporter(grpcExporterOptions(settings.endpoint, settings.connection));
}

export function createTracerProvider(settings: TraceExportSettings, serviceVersion: string): { provider: TracerProvider; stats: SpanExportStats } {
  const stats = new SpanExportStats();
  const batcher = new BatchSpanProcessor({
    exporter: new CountingSpanExporter(exporterFor(settings), stats),
    scheduledDelayMillis: settings.exportIntervalMs,
    maxQueueSize: settings.maxQueueSize,
    maxExportBatchSize: Math.min(512, settings.maxQueueSize),
    // A span leaves within 5 s of ending or is given up (policy: SIEM within 1 minute).
    exportTimeoutMillis: 4_000,
  });
  const provider = new TracerProvider({
    resource: resourceFromAttributes({
      [ATTR_SERVICE_NAME]: 'keyward',
      [ATTR_SERVICE_VERSION]: serviceVersion,
      'host.name': hostname(),
    }),
    spanProcessors: [new BoundedSpanProcessor(batcher, stats, settings.maxQueueSize)],
  });
  return { provider, stats };
}
