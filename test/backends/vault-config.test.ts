// The `vault` entry of `backends` in the configuration: its documented defaults, and
// every way it can be wrong answered with invalid-argument naming the field — an inline
// secret, a non-http address, a client certificate without its key, an unknown auth
// method, out-of-range timings.
import test from 'ava';
import { parseConfig } from '../../src/config/load-config.js';
import { KeywardError } from '../../src/core/keyward-error.js';

function config(vault: Record<string, unknown>): unknown {
  return {
    server: { data_socket: { path: '/run/keyward/keyward.sock' }, admin_socket: { path: '/run/keyward/admin.sock' } },
    backends: { vault: { type: 'vault', address: 'https://vault.example:8200', auth: { method: 'token', token: { file: '/run/secrets/vault-token' } }, ...vault } },
    keys: [{ id: 'demo', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }],
  };
}

function problems(t: import('ava').ExecutionContext, vault: Record<string, unknown>): string[] {
  const err = t.throws(() => parseConfig(config(vault), {}, 'test.yaml'), { instanceOf: KeywardError });
  t.is(err?.code, 'invalid-argument');
  return (err?.message ?? '').split('\n').slice(1).map((l) => l.trim());
}

test('a minimal vault entry gets the documented defaults', (t) => {
  const parsed = parseConfig(config({}));
  t.deepEqual(parsed.backends['vault'], {
    type: 'vault',
    address: 'https://vault.example:8200',
    auth: { method: 'token', token: { file: '/run/secrets/vault-token' } },
    transit_mount: 'transit',
    key_name_prefix: '',
    request_timeout_ms: 5_000,
    retry: { max_attempts: 3, base_delay_ms: 100, max_delay_ms: 2_000 },
    circuit_breaker: { failure_threshold: 5, open_ms: 5_000 },
    max_concurrent_requests: 32,
    key_poll_interval_ms: 15_000,
    create_keys: true,
    data_key_source: 'vault',
    data_key_source_by_key: {},
  });
});

test('AppRole and Kubernetes auth get their default mounts; Kubernetes reads the projected token by default', (t) => {
  const approle = parseConfig(config({ auth: { method: 'approle', role_id: { file: '/r' }, secret_id: { env: 'SECRET_ID' } } })).backends['vault'];
  t.like(approle, { auth: { method: 'approle', mount: 'approle' } });
  const k8s = parseConfig(config({ auth: { method: 'kubernetes', role: 'keyward' } })).backends['vault'];
  t.like(k8s, { auth: { method: 'kubernetes', role: 'keyward', mount: 'kubernetes', jwt: { file: '/var/run/secrets/kubernetes.io/serviceaccount/token' } } });
});

test('a token written inline is refused', (t) => {
  const lines = problems(t, { auth: { method: 'token', token: 'hvs.inline-token' } });
  t.true(lines.some((l) => l.startsWith('backends.vault.auth.token:')), lines.join(' | '));
  t.false(lines.join('\n').includes('hvs.inline-token'), 'the refused value is not echoed');
});

test('the address must be an http(s) URL', (t) => {
  t.deepEqual(problems(t, { address: 'vault.example:8200' }), ['backends.vault.address: expected an http:// or https:// URL']);
  t.deepEqual(problems(t, { address: 'ftp://vault.example' }), ['backends.vault.address: expected an http:// or https:// URL']);
});

test('a client certificate needs its key, and the reverse', (t) => {
  t.deepEqual(problems(t, { tls: { client_cert_file: '/c.pem' } }), ['backends.vault.tls: client_cert_file and client_key go together']);
  t.deepEqual(problems(t, { tls: { client_key: { file: '/k.pem' } } }), ['backends.vault.tls: client_cert_file and client_key go together']);
});

test('unknown auth methods, unknown fields, bad mounts and out-of-range numbers are named', (t) => {
  t.true(problems(t, { auth: { method: 'userpass' } }).some((l) => l.startsWith('backends.vault.auth.method')));
  t.deepEqual(problems(t, { colour: 'blue' }), ['backends.vault: unknown field "colour"']);
  t.deepEqual(problems(t, { transit_mount: '/transit/' }), ['backends.vault.transit_mount: expected a mount path such as "transit" (no leading or trailing slash)']);
  t.deepEqual(problems(t, { request_timeout_ms: 10 }), ['backends.vault.request_timeout_ms: Too small: expected number to be >=100']);
  t.deepEqual(problems(t, { retry: { max_attempts: 0 } }), ['backends.vault.retry.max_attempts: Too small: expected number to be >=1']);
  t.deepEqual(problems(t, { data_key_source_by_key: { demo: 'hsm' } }), ['backends.vault.data_key_source_by_key.demo: expected one of "vault", "local"']);
});
