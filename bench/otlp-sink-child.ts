// A node-local OTLP collector stand-in for the audit benchmark, in its own process so
// decoding the daemon's spans does not take CPU from the load generator. Prints its
// traces and metrics URLs as one JSON line, then serves until killed.
import { OtlpHttpReceiver } from '../test/support/otlp-receiver/otlp-http-receiver.js';

const receiver = await OtlpHttpReceiver.start();
process.stdout.write(`${JSON.stringify({ traces: receiver.tracesUrl, metrics: receiver.metricsUrl })}\n`);
// Keep memory flat over a long run: the benchmark reads only the count.
let received = 0;
setInterval(() => {
  received += receiver.store.spans.length;
  receiver.store.clear();
}, 1_000).unref();
process.on('SIGTERM', () => {
  process.stderr.write(`spans received: ${received + receiver.store.spans.length}\n`);
  void receiver.stop().finally(() => process.exit(0));
});
