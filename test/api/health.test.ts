// grpc.health.v1 on the data socket, per backend readiness, through a stock client
// built from the health proto that ships with grpc-health-check.
import test from 'ava';
import { credentials, makeGenericClientConstructor, status, type Client, type ServiceError } from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

let d: TestDaemon;
let health: Client & { check: (req: { service: string }, cb: (err: ServiceError | null, res?: { status: string }) => void) => void };

test.before(async () => {
  d = await startTestDaemon();
  const HealthClient = makeGenericClientConstructor(healthService as never, 'Health');
  health = new HealthClient(`unix:${d.socketPath}`, credentials.createInsecure()) as unknown as typeof health;
});
test.after.always(async () => {
  health?.close();
  await d?.dispose();
});

const check = (service: string) =>
  new Promise<{ status: string }>((resolve, reject) => health.check({ service }, (err, res) => (err ? reject(err) : resolve(res!))));

test('overall, KeyService and the local backend report SERVING', async (t) => {
  t.is((await check('')).status, 'SERVING');
  t.is((await check('keyward.v1.KeyService')).status, 'SERVING');
  t.is((await check('keyward.backend.local')).status, 'SERVING');
});

test('an unknown service name → NOT_FOUND', async (t) => {
  const err = (await t.throwsAsync(check('keyward.backend.nope'))) as ServiceError;
  t.is(err.code, status.NOT_FOUND);
});
