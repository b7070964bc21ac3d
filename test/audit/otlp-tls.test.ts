// Spans over OTLP gRPC with TLS: the daemon trusts the collector's CA from `tls.ca_file`
// and checks the certificate against `tls.server_name`; a collector whose certificate
// names another host gets nothing. Certificates are made at run time with openssl.
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { OtlpGrpcReceiver } from '../support/otlp-receiver/otlp-grpc-receiver.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const cert = join(dir, `${name}.crt`);
  const key = join(dir, `${name}.key.tmp`);
  const run = spawnSync('openssl', [
    'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1',
    '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`, '-keyout', key, '-out', cert,
  ]);
  if (run.status !== 0) throw new Error(run.stderr.toString());
  return { cert, key };
}

test('TLS to the collector: trusted CA and matching server name deliver; another name delivers nothing', async (t) => {
  const dir = makeTempDir('keyward-otlp-tls-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const good = selfSigned(dir, 'collector.keyward.test');
  const receiver = await OtlpGrpcReceiver.start({ tls: { cert: readFileSync(good.cert), key: readFileSync(good.key) } });
  t.teardown(() => receiver.stop());
  const traces = (serverName: string) => ({
    protocol: 'grpc',
    // A host name, not an IP: Node refuses an IP as the TLS server name (SNI).
    endpoint: receiver.url.replace('127.0.0.1', 'localhost'),
    export_interval_ms: 100,
    tls: { ca_file: good.cert, server_name: serverName },
  });

  const right = await startTestDaemon({ overrides: { telemetry: { traces: traces('collector.keyward.test') } } });
  await right.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('x') }, { metadata: { traceparent: `00-${'1'.repeat(32)}-${'2'.repeat(16)}-01` } });
  const spans = await receiver.store.waitForSpans((s) => s.name === 'keyward.Encrypt' && s.traceId === '1'.repeat(32));
  t.is(spans.length, 1);
  t.is(spans[0]!.transport, 'grpc');
  await right.dispose();

  const wrong = await startTestDaemon({ overrides: { telemetry: { traces: traces('someone-else.test') } } });
  await wrong.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('x') }, { metadata: { traceparent: `00-${'3'.repeat(32)}-${'4'.repeat(16)}-01` } });
  await new Promise((r) => setTimeout(r, 1_500));
  t.false(receiver.store.spans.some((s) => s.traceId === '3'.repeat(32)), 'a certificate for another name is refused');
  await wrong.dispose();
});
