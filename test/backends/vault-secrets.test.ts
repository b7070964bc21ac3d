// No token, secret_id, role_id or service-account JWT in any log line, error message,
// error cause or stderr output of the Vault backend — checked across logins, renewals,
// re-logins, refusals, outages, and a Vault that echoes the token back in its errors.
// node-vault's debug output is switched on (DEBUG=node-vault: it would print login
// bodies) and VAULT_TOKEN / VAULT_NAMESPACE / VAULT_PREFIX are set in the environment
// (node-vault falls back to them): neither may leak or take effect. Hence the dynamic
// imports: the environment must be in place before node-vault and debug load.
import test from 'ava';

process.env['DEBUG'] = 'node-vault';
process.env['VAULT_NAMESPACE'] = 'namespace-from-the-environment';
process.env['VAULT_PREFIX'] = '/prefix-from-the-environment';
const stderr: string[] = [];
const write = process.stderr.write.bind(process.stderr);
process.stderr.write = ((chunk: unknown, ...rest: unknown[]) => {
  try {
    stderr.push(typeof chunk === 'string' ? chunk : chunk instanceof Uint8Array ? Buffer.from(chunk).toString('utf8') : String(chunk));
  } catch {
    // recording must never break the write
  }
  return (write as (...args: unknown[]) => boolean)(chunk, ...rest);
}) as typeof process.stderr.write;

const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
const { tmpdir } = await import('node:os');
const { join } = await import('node:path');
const { startVaultServer } = await import('../support/vault-server.js');
const { everythingIn, openVaultBackend, recordingLogger, vaultSettings } = await import('../support/vault-server/backend-harness.js');
const { sleep } = await import('../support/deferred.js');

const MAC = { keyId: 'm', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' } as const;

test('no secret in logs, errors, causes or stderr across logins, renewals, refusals and outages', async (t) => {
  const vault = await startVaultServer();
  // node-vault would send this instead of our token if it fell back to VAULT_TOKEN.
  process.env['VAULT_TOKEN'] = vault.rootToken;
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-secrets-'));
  const file = (name: string, value: string) => {
    writeFileSync(join(dir, name), value, { mode: 0o600 });
    return join(dir, name);
  };
  t.teardown(async () => {
    await vault.close();
    rmSync(dir, { recursive: true, force: true });
  });
  vault.setPolicy('keyward', [{ path: 'transit/*', capabilities: ['create', 'read', 'update'] }, { path: 'transit/keys/+/rotate', capabilities: ['deny'] }]);
  const { roleId, secretId } = vault.approle.addRole('keyward', { policies: ['keyward'], tokenTtlSeconds: 2 });
  const jwt = vault.kubernetes.addRole('k8s', { policies: ['keyward'] });
  const log = recordingLogger();
  const errors: unknown[] = [];
  const attempt = async (p: Promise<unknown>) => p.catch((err: unknown) => errors.push(err));

  const settings = (auth: Record<string, unknown>) =>
    vaultSettings({
      type: 'vault',
      address: vault.address,
      auth,
      request_timeout_ms: 300,
      retry: { max_attempts: 2, base_delay_ms: 5, max_delay_ms: 10 },
      circuit_breaker: { failure_threshold: 50, open_ms: 100 },
      key_poll_interval_ms: 100,
    });
  const approle = { method: 'approle', role_id: { file: file('rid', roleId) }, secret_id: { file: file('sid', secretId) } };
  const backend = await openVaultBackend(settings(approle), { logger: log.logger });
  t.teardown(() => backend.close());
  await backend.ensureKey(MAC);
  await backend.ensureKey({ keyId: 'kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' });

  await sleep(1_500); // a renewal
  vault.tokens.expireAll(); // a re-login
  await attempt(backend.mac('m', 1, Buffer.from('x')));
  await attempt(backend.rotateKey('m')); // 403 permission-denied
  await attempt(backend.unwrapDataKey('kek', 1, Buffer.from('vault:v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'))); // 400
  // A Vault (or proxy) that echoes the credentials back in its errors.
  const current = vault.tokens.issued((x) => x.path === 'auth/approle/login').map((x) => x.id);
  vault.faults.failNext(2, 500, [`internal error for token ${current.at(-1)} and secret_id ${secretId}`]);
  await attempt(backend.mac('m', 1, Buffer.from('x')));
  vault.faults.failNext(1, 400, [`bad request: role_id ${roleId}`]);
  await attempt(backend.mac('m', 1, Buffer.from('x')));
  vault.faults.down(300);
  await attempt(backend.mac('m', 1, Buffer.from('x')));
  await sleep(400);
  vault.faults.latency(500);
  await attempt(backend.mac('m', 1, Buffer.from('x'))); // timeouts
  vault.faults.clear();
  const staticToken = vault.createToken({ policies: ['keyward'], ttlSeconds: 3600 }).id;

  // Refused credentials of every kind, at start.
  await attempt(openVaultBackend(settings({ ...approle, secret_id: { file: file('bad-sid', `${secretId}-wrong`) } }), { logger: log.logger }));
  await attempt(openVaultBackend(settings({ method: 'kubernetes', role: 'k8s', jwt: { file: file('bad-jwt', `${jwt}x`) } }), { logger: log.logger }));
  await attempt(openVaultBackend(settings({ method: 'token', token: { file: file('bad-token', `${staticToken}x`) } }), { logger: log.logger }));
  // And working ones, then a token file whose token dies.
  const k8s = await openVaultBackend(settings({ method: 'kubernetes', role: 'k8s', jwt: { file: file('jwt', jwt) } }), { logger: log.logger });
  t.teardown(() => k8s.close());
  const tokenBackend = await openVaultBackend(settings({ method: 'token', token: { file: file('token', staticToken) } }), { logger: log.logger });
  t.teardown(() => tokenBackend.close());
  await tokenBackend.ensureKey(MAC);
  vault.tokens.revoke(staticToken);
  await attempt(tokenBackend.mac('m', 1, Buffer.from('x')));

  const secrets = [
    ['secret_id', secretId],
    ['role_id', roleId],
    ['jwt', jwt],
    ['static token', staticToken],
    ['root token', vault.rootToken],
    ...vault.tokens.issued().map((x) => ['issued token', x.id] as const),
  ] as const;
  t.true(errors.length >= 9, `${errors.length} errors collected`);
  t.true(log.lines.length >= 10, `${log.lines.length} log lines collected`);
  const haystacks = [
    ...log.lines.map((l, i) => [`log line ${i}`, l] as const),
    ...errors.map((e, i) => [`error ${i}`, everythingIn(e)] as const),
    ['stderr', stderr.join('')] as const,
  ];
  const leaks: string[] = [];
  for (const [where, text] of haystacks) {
    for (const [what, secret] of secrets) if (text.includes(secret)) leaks.push(`${what} in ${where}`);
  }
  t.deepEqual(leaks, []);
  t.true(errors.some((e) => everythingIn(e).includes('[redacted]')), 'the echoed credentials were redacted');

  // The environment fallbacks of node-vault never took effect.
  t.false(vault.requests.some((r) => r.namespace !== ''), 'no X-Vault-Namespace from VAULT_NAMESPACE');
  t.false(vault.requests.some((r) => r.path.includes('prefix-from-the-environment')), 'no path prefix from VAULT_PREFIX');
  t.false(vault.requests.some((r) => r.path.endsWith('/login') && r.withToken), 'logins carry no token (not even VAULT_TOKEN)');
  t.false(vault.requests.some((r) => r.token === vault.rootToken), 'VAULT_TOKEN was never sent');
});
