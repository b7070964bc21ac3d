// The SDK's admin client shows the daemon's status message as written: connect-node's
// encodeURIComponent escapes of ; / ? : @ & = + $ , # (which grpc-js's decodeURI leaves)
// are undone — over the real admin socket, and for each escape on its own.
import test from 'ava';
import { status, type ServiceError } from '@grpc/grpc-js';
import { decodeReservedEscapes } from '../../src/client/status-details.js';
import { startTestDaemon } from '../support/test-daemon.js';

test('the escapes decodeURI leaves are decoded; everything else is left as it is', (t) => {
  t.is(decodeReservedEscapes('a%3Bb%2Fc%3Fd%3Ae%40f%26g%3Dh%2Bi%24j%2Ck%23l'), 'a;b/c?d:e@f&g=h+i$j,k#l');
  t.is(decodeReservedEscapes('key id%3a expected'), 'key id: expected');
  t.is(decodeReservedEscapes('100% sure, %zz and %41 stay'), '100% sure, %zz and %41 stay');
});

test("an admin-plane error reaches the SDK's caller with its ':' intact", async (t) => {
  const daemon = await startTestDaemon();
  t.teardown(() => daemon.stop());
  const err = await t.throwsAsync<ServiceError>(daemon.admin.describeKey({ keyId: 'not a key!' }));
  t.is(err?.code, status.INVALID_ARGUMENT);
  t.regex(err?.details ?? '', /is not a key id: expected 1-\d+ characters of A-Z a-z 0-9 \. _ - starting with a letter or digit$/);
  t.notRegex(err?.message ?? '', /%3A/i);
});
