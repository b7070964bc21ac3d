// TLS to Vault, with certificates made at run time by the openssl command: the CA file
// verifies Vault's certificate, server_name is the name it is checked against (the
// certificate is for vault.test, the address is 127.0.0.1), a listener that requires
// client certificates gets ours, and VAULT_SKIP_VERIFY in the environment turns nothing
// off (node-vault's own transport would stop verifying).
import test from 'ava';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { openVaultBackend, vaultSettings } from '../support/vault-server/backend-harness.js';
import { startVaultServer, type TestVaultServer } from '../support/vault-server.js';

const codeOf = (err: unknown) => (isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`);
const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-tls-'));
const at = (name: string) => join(dir, name);

function openssl(...args: string[]): void {
  execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
}

/** A CA, and a certificate it signs for `cn` with the given extensions. */
function issue(name: string, cn: string, extensions: string): void {
  openssl('req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`);
  writeFileSync(at(`${name}.ext`), extensions);
  openssl('x509', '-req', '-in', `${name}.csr`, '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', `${name}.pem`, '-days', '1', '-extfile', `${name}.ext`);
}

openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=keyward test CA');
issue('server', 'vault.test', 'subjectAltName=DNS:vault.test\nextendedKeyUsage=serverAuth\n');
issue('client', 'keyward', 'extendedKeyUsage=clientAuth\n');
const pem = (name: string) => readFileSync(at(name), 'utf8');

let plain: TestVaultServer;
let mutual: TestVaultServer;
test.before(async () => {
  plain = await startVaultServer({ tls: { key: pem('server.key'), cert: pem('server.pem') } });
  mutual = await startVaultServer({ tls: { key: pem('server.key'), cert: pem('server.pem'), clientCa: pem('ca.pem') } });
  for (const vault of [plain, mutual]) writeFileSync(tokenFile(vault), vault.rootToken, { mode: 0o600 });
});
test.after.always(async () => {
  await plain?.close();
  await mutual?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** The root token's file of a test Vault (written once, in before(): tests run concurrently). */
const tokenFile = (vault: TestVaultServer) => at(`token-${vault.address.split(':').at(-1)}`);

function settings(vault: TestVaultServer, tls: Record<string, unknown> | undefined) {
  return vaultSettings({
    type: 'vault',
    address: vault.address,
    auth: { method: 'token', token: { file: tokenFile(vault) } },
    retry: { max_attempts: 1 },
    ...(tls ? { tls } : {}),
  });
}

test('the CA file and server_name verify Vault; the KEK operations work over TLS', async (t) => {
  const backend = await openVaultBackend(settings(plain, { ca_file: at('ca.pem'), server_name: 'vault.test' }));
  t.teardown(() => backend.close());
  await backend.ensureKey({ keyId: 'k', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' });
  const dk = await backend.generateDataKey('k', 1);
  t.true((await backend.unwrapDataKey('k', 1, dk.wrapped)).expose().equals(dk.plaintext.expose()));
});

test('without the CA, Vault is not trusted (even with VAULT_SKIP_VERIFY set): unavailable, naming the TLS error', async (t) => {
  process.env['VAULT_SKIP_VERIFY'] = 'true';
  t.teardown(() => delete process.env['VAULT_SKIP_VERIFY']);
  const err = await t.throwsAsync(openVaultBackend(settings(plain, { server_name: 'vault.test' })));
  t.is(codeOf(err), 'unavailable');
  t.regex(err!.message, /UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED|unable to verify|issuer certificate/i);
});

test('without server_name, the certificate (for vault.test) does not match 127.0.0.1: refused', async (t) => {
  const err = await t.throwsAsync(openVaultBackend(settings(plain, { ca_file: at('ca.pem') })));
  t.is(codeOf(err), 'unavailable');
  t.regex(err!.message, /ERR_TLS_CERT_ALTNAME_INVALID/);
});

test('a listener that requires client certificates: refused without one, served with ours', async (t) => {
  const without = await t.throwsAsync(openVaultBackend(settings(mutual, { ca_file: at('ca.pem'), server_name: 'vault.test' })));
  t.is(codeOf(without), 'unavailable');
  const backend = await openVaultBackend(
    settings(mutual, { ca_file: at('ca.pem'), server_name: 'vault.test', client_cert_file: at('client.pem'), client_key: { file: at('client.key') } }),
  );
  t.teardown(() => backend.close());
  t.is((await backend.ensureKey({ keyId: 'k', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'vault' })).primaryVersion, 1);
});

test('an unreadable CA file or client key refuses to start with failed-precondition, naming the file', async (t) => {
  const noCa = await t.throwsAsync(openVaultBackend(settings(plain, { ca_file: at('missing.pem') })));
  t.is(codeOf(noCa), 'failed-precondition');
  t.regex(noCa!.message, /cannot read the CA file .*missing\.pem: ENOENT/);
  const noKey = await t.throwsAsync(openVaultBackend(settings(plain, { ca_file: at('ca.pem'), client_cert_file: at('client.pem'), client_key: { file: at('nokey') } })));
  t.is(codeOf(noKey), 'failed-precondition');
});
