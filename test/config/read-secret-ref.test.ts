// Secrets named by file or environment variable: read as bytes; a missing file or an
// unset variable is failed-precondition naming the file or variable, never a value —
// and a daemon whose collector header cannot be read refuses to start the same way.
import test from 'ava';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readSecretRef } from '../../src/config/read-secret-ref.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

test('a file and an environment variable are read; missing ones are failed-precondition naming them', (t) => {
  const dir = makeTempDir('keyward-secret-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'token');
  writeFileSync(file, 's3cret-from-file', { mode: 0o600 });
  t.is(readSecretRef({ file }, 'x').toString(), 's3cret-from-file');
  process.env['KEYWARD_TEST_SECRET'] = 's3cret-from-env';
  t.teardown(() => delete process.env['KEYWARD_TEST_SECRET']);
  t.is(readSecretRef({ env: 'KEYWARD_TEST_SECRET' }, 'x').toString(), 's3cret-from-env');

  const missingFile = t.throws(() => readSecretRef({ file: join(dir, 'nope') }, 'telemetry.traces.headers.x-token'));
  t.true(isKeywardError(missingFile, 'failed-precondition'));
  t.is(missingFile!.message, `telemetry.traces.headers.x-token: cannot read ${join(dir, 'nope')} (ENOENT)`);
  const unset = t.throws(() => readSecretRef({ env: 'KEYWARD_TEST_UNSET' }, 'w'));
  t.true(isKeywardError(unset, 'failed-precondition'));
  t.is(unset!.message, 'w: environment variable KEYWARD_TEST_UNSET is not set');
});

test('a daemon whose collector header or CA file cannot be read refuses to start, naming the setting', async (t) => {
  const dir = makeTempDir('keyward-secret-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const traces = { protocol: 'http', endpoint: 'http://127.0.0.1:1/v1/traces' };
  const header = await t.throwsAsync(
    startTestDaemon({ dir, overrides: { telemetry: { traces: { ...traces, headers: { 'x-token': { file: join(dir, 'absent') } } } } } }),
  );
  t.true(isKeywardError(header, 'failed-precondition'));
  t.regex(header!.message, /^telemetry\.traces\.headers\.x-token: cannot read .*absent \(ENOENT\)$/);
  const ca = await t.throwsAsync(startTestDaemon({ dir, overrides: { telemetry: { traces: { ...traces, tls: { ca_file: join(dir, 'no-ca.pem') } } } } }));
  t.true(isKeywardError(ca, 'failed-precondition'));
  t.regex(ca!.message, /^telemetry\.traces\.tls\.ca_file: cannot read .*no-ca\.pem$/);
});
