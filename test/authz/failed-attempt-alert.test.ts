// Policy §8 through a running daemon: more than 3 denied attempts by one identity
// within 5 minutes raise one alert — a metric over OTLP and an error-level record in
// the audit log — with the daemon's clock under the test's control.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { waitFor } from '../support/keyward-process.js';
import { OtlpHttpReceiver } from '../support/otlp-receiver/otlp-http-receiver.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

const MINUTE = 60_000;

/** A daemon that grants this process Encrypt on alpha only, on a clock the test moves. */
async function alphaOnlyDaemon(clock: { now: number }, telemetry?: Record<string, unknown>) {
  const dir = makeTempDir();
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({
    dir,
    overrides: {
      authorization: { rules: [{ name: 'alpha-only', match: { uid: 'self' }, keys: ['alpha'], roles: ['key-user-encrypt'] }] },
      audit: { log: { path: auditPath, fsync: 'every-record' } },
      ...(telemetry ? { telemetry } : {}),
    },
    daemonOptions: { now: () => clock.now },
  });
  return { d, auditPath };
}

test('4 denials within 5 minutes alert once; 3 do not; a new burst after a quiet window alerts again', async (t) => {
  const receiver = await OtlpHttpReceiver.start();
  const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
  const { d, auditPath } = await alphaOnlyDaemon(clock, { metrics: { protocol: 'http', endpoint: receiver.metricsUrl, export_interval_ms: 200 } });
  t.teardown(async () => {
    await d.dispose();
    await receiver.stop();
  });
  const alerts = () =>
    readFileSync(auditPath, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((r) => r['event'] === 'alert.failed_attempts');
  // Audit appends are queued off the call's path: wait for the count to settle.
  const alertsSettled = async (expected: number) => {
    await waitFor(() => alerts().length >= expected, `${expected} alert records`, 3_000).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    return alerts();
  };
  const deny = (keyId = 'beta') => rejectsWithCode(t, d.client.encrypt({ keyId, plaintext: Buffer.from('x') }), status.PERMISSION_DENIED, 'permission denied');

  // Three denials, a minute apart, and an allowed call between: no alert.
  for (let i = 0; i < 3; i++) {
    await deny();
    await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('ok') });
    clock.now += MINUTE;
  }
  t.is((await alertsSettled(0)).length, 0);
  // The fourth, 3 minutes after the first: more than 3 within 5 minutes.
  await deny('gamma');
  const [alert] = await alertsSettled(1);
  t.like(alert, { level: 'error', 'enduser.id': `uid:${process.getuid!()}`, attempts: 4, window_ms: 5 * MINUTE, key_id: 'gamma', operation: 'encrypt' });
  t.regex(String(alert?.['reason']), /no rule grants encrypt on key "gamma"/);
  // More in the same burst: still one alert.
  await deny();
  await deny();
  t.is((await alertsSettled(2)).length, 1);
  // Quiet for longer than the window, then a new burst of four: a second alert.
  clock.now += 6 * MINUTE;
  for (let i = 0; i < 4; i++) await deny();
  t.is((await alertsSettled(2)).length, 2);

  const metric = await receiver.store.waitForMetrics(
    (m) => m.name === 'keyward.authz.failed_attempt_alerts' && m.dataPoints.some((p) => Number(p.value) === 2),
    10_000,
  );
  t.truthy(metric);
  const denied = await receiver.store.waitForMetrics((m) => m.name === 'keyward.rpc.denied' && m.dataPoints.some((p) => Number(p.value) >= 9), 10_000);
  t.truthy(denied);
});

test('denials spread so that never more than 3 fall in 5 minutes never alert', async (t) => {
  const clock = { now: Date.UTC(2026, 10, 23, 12, 0, 0) };
  const { d, auditPath } = await alphaOnlyDaemon(clock);
  t.teardown(() => d.dispose());
  // One denial every 100 s: never more than 3 in any 5-minute window.
  for (let i = 0; i < 10; i++) {
    await rejectsWithCode(t, d.client.encrypt({ keyId: 'beta', plaintext: Buffer.from('x') }), status.PERMISSION_DENIED);
    clock.now += 100_000;
  }
  t.false(readFileSync(auditPath, 'utf8').includes('alert.failed_attempts'));
});
