// The authorization layer's reload, unit by unit: a new section replaces the policy only
// when every part of it can be built — a JWKS file that cannot be read keeps the old
// policy in force and says why with failed-precondition.
import test from 'ava';
import { exportJWK, generateKeyPair } from 'jose';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load-config.js';
import { KeywardError } from '../../src/core/keyward-error.js';
import { silentLogger } from '../../src/core/logger.js';
import { buildAuthorization } from '../../src/daemon/build-authorization.js';
import { makeTempDir, testConfigObject } from '../support/test-daemon.js';

function section(dir: string, authorization: Record<string, unknown>) {
  return parseConfig(testConfigObject(dir, { authorization })).authorization;
}

test('reload: a valid section replaces the policy; a JWKS file that cannot be read keeps the old one (failed-precondition)', async (t) => {
  const dir = makeTempDir();
  const jwksFile = join(dir, 'jwks.json');
  const { publicKey } = await generateKeyPair('ES256');
  writeFileSync(jwksFile, JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] }));
  const rule = (keys: string[]) => ({ name: 'self', match: { uid: 'self' }, keys, operations: ['encrypt'] });
  const bearer = (file: string) => ({ jwks_file: file, issuer: 'https://issuer', audience: 'keyward' });
  const parts = buildAuthorization(section(dir, { rules: [rule(['alpha'])], bearer_token: bearer(jwksFile) }), { logger: silentLogger, onAlert: () => undefined });
  const first = parts.authorizer.policy;

  t.deepEqual(parts.reload(section(dir, { rules: [rule(['alpha']), { ...rule(['beta']), name: 'beta' }], bearer_token: bearer(jwksFile) })), { rules: 2 });
  const second = parts.authorizer.policy;
  t.not(second, first);

  const err = t.throws(() => parts.reload(section(dir, { rules: [], bearer_token: bearer(join(dir, 'missing.json')) })), { instanceOf: KeywardError });
  t.is(err?.code, 'failed-precondition');
  t.regex(err!.message, /missing\.json/);
  t.is(parts.authorizer.policy, second, 'the policy in force is still the last good one');
});
