// A node-local OTLP/HTTP collector stand-in for the audit benchmark, in its own process.
// It does what a collector's receiver must do on the daemon's account — read each
// request and acknowledge it with an empty Export*ServiceResponse (the OTLP spec's
// success) — and decodes one trace request in ten (with the protobuf-es code generated
// from opentelemetry-proto) to prove the spans are real. Decoding every request, as the
// test receiver does, took ~0.15 of this machine's 2 cores away from the daemon and the
// load generator: a cost of the stand-in, not of keyward. Prints its traces and metrics
// URLs as one JSON line, then serves until killed; on SIGTERM reports what it received.
import { fromBinary } from '@bufbuild/protobuf';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { ExportTraceServiceRequestSchema } from '../test/support/otlp-receiver/gen/opentelemetry/proto/collector/trace/v1/trace_service_pb.js';

const DECODE_ONE_IN = 10;
let traceRequests = 0;
let metricRequests = 0;
let bytes = 0;
let decodedRequests = 0;
let decodedSpans = 0;

const server = createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = Buffer.concat(chunks);
    bytes += body.byteLength;
    if (req.url === '/v1/traces') {
      if (traceRequests++ % DECODE_ONE_IN === 0) {
        const request = fromBinary(ExportTraceServiceRequestSchema, body);
        decodedRequests++;
        for (const rs of request.resourceSpans) for (const ss of rs.scopeSpans) decodedSpans += ss.spans.length;
      }
    } else {
      metricRequests++;
    }
    // An empty message encodes as zero bytes: the success response.
    res.writeHead(200, { 'content-type': 'application/x-protobuf', 'content-length': 0 });
    res.end();
  });
});
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`${JSON.stringify({ traces: `http://127.0.0.1:${port}/v1/traces`, metrics: `http://127.0.0.1:${port}/v1/metrics` })}\n`);
});
process.on('SIGTERM', () => {
  const perRequest = decodedRequests > 0 ? decodedSpans / decodedRequests : 0;
  process.stderr.write(
    `trace requests ${traceRequests} (≈ ${Math.round(perRequest * traceRequests).toLocaleString('en-US')} spans; ${decodedRequests} decoded, ` +
      `${decodedSpans.toLocaleString('en-US')} spans in them), metric requests ${metricRequests}, ${(bytes / 1048576).toFixed(1)} MiB\n`,
  );
  server.close(() => process.exit(0));
});
