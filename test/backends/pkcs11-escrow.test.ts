// Key escrow on an HSM key (policy §7's note): the pkcs11 backend keeps its keys
// non-extractable, so SplitKeyEscrow answers FAILED_PRECONDITION and says why, while a
// local key of the same daemon escrows as usual. A real daemon on a SoftHSM2 token.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { createSoftHsmToken } from '../support/softhsm-token.js';
import { makeTempDir, startTestDaemon } from '../support/test-daemon.js';

const token = createSoftHsmToken('escrow');
test.after.always(() => token.cleanup());

test('an HSM key cannot be escrowed: FAILED_PRECONDITION naming the backend and policy §7', async (t) => {
  const dir = makeTempDir('keyward-pkcs11-escrow-');
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  const masterKey = join(dir, 'escrow-master.key');
  writeFileSync(masterKey, randomBytes(32), { mode: 0o600 });
  const d = await startTestDaemon({
    dir,
    overrides: {
      escrow: { master_key_file: masterKey },
      backends: {
        local: { type: 'local', keystore_dir: join(dir, 'keystore') },
        hsm: { type: 'pkcs11', module: token.module, token: token.label, pin: { file: token.pinFile }, create_missing_keys: true },
      },
      keys: [
        { id: 'records', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'hsm' },
        { id: 'local-records', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
      ],
    },
  });
  t.teardown(() => d.stop());
  const err = await rejectsWithCode(t, d.admin.splitKeyEscrow({ keyId: 'records', shares: 3, threshold: 2 }), status.FAILED_PRECONDITION);
  t.regex(decodeURIComponent(err.details), /^key "records" is held by backend "hsm" \(pkcs11\) where key material is not extractable, so keyward cannot escrow it\. Policy §7's note applies \(rely on the HSM's own backup and replication\)$/);
  t.is((await d.admin.splitKeyEscrow({ keyId: 'local-records', shares: 3, threshold: 2 })).shares.length, 3);
});
