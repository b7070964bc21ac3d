// The DEK wrap path is AES-256-GCM computed inside the token (CKM_AES_GCM through
// C_Encrypt/C_Decrypt, with the mechanism parameters built by wrapped-dek.ts). This runs
// every Project Wycheproof AES-GCM vector of the shape that path uses — 256-bit key,
// 96-bit IV, 128-bit tag — through SoftHSM with those same parameters: valid vectors must
// seal to the expected bytes and open to the message, invalid ones (modified tags …) must
// be refused. Keys are session objects (CKA_TOKEN false) imported for the test only.
import test from 'ava';
import pkcs11js from 'pkcs11js';
import { gcmMechanism } from '../../src/backends/pkcs11/wrapped-dek.js';
import { createSoftHsmToken, openRawSession } from '../support/softhsm-token.js';
import { hex, loadWycheproof, type AesGcmGroup } from '../support/wycheproof.js';

const token = createSoftHsmToken('wycheproof');
test.after.always(() => token.cleanup());

test('Wycheproof AES-256-GCM (96-bit IV, 128-bit tag) through the token: every valid vector seals and opens, every invalid one is refused', async (t) => {
  const file = loadWycheproof<AesGcmGroup>('aes_gcm_test.json', 'AES-GCM');
  const vectors = file.testGroups.filter((g) => g.keySize === 256 && g.ivSize === 96 && g.tagSize === 128).flatMap((g) => g.tests);
  t.is(vectors.length, 66, 'the vectors of the shape the wrap path uses');

  const raw = await openRawSession(token);
  t.teardown(() => raw.close());
  const { api, session } = raw;
  const P = pkcs11js;
  const failures: string[] = [];
  let valid = 0;
  let invalid = 0;
  let emptyMessages = 0;
  for (const v of vectors) {
    const key = api.C_CreateObject(session, [
      { type: P.CKA_CLASS, value: P.CKO_SECRET_KEY },
      { type: P.CKA_KEY_TYPE, value: P.CKK_AES },
      { type: P.CKA_TOKEN, value: false },
      { type: P.CKA_VALUE, value: hex(v.key) },
      { type: P.CKA_ENCRYPT, value: true },
      { type: P.CKA_DECRYPT, value: true },
    ]);
    try {
      const mechanism = gcmMechanism(hex(v.iv), hex(v.aad));
      const sealed = Buffer.concat([hex(v.ct), hex(v.tag)]);
      let opened: Buffer | undefined;
      try {
        api.C_DecryptInit(session, mechanism, key);
        opened = Buffer.from(await api.C_DecryptAsync(session, sealed, Buffer.alloc(sealed.length + 16)));
      } catch (err) {
        if (!/^CKR_/.test((err as Error).message)) throw err;
        opened = undefined;
      }
      if (v.result === 'valid') {
        valid++;
        if (opened === undefined || !opened.equals(hex(v.msg))) failures.push(`tcId ${v.tcId}: valid vector did not open to the message`);
        if (v.msg === '') {
          // Sealing 0 bytes: SoftHSM answers CKR_ARGUMENTS_BAD when associated data comes
          // with it (pkcs11js passes no input buffer) and leaves the operation active. The
          // wrap path always seals 32 bytes; opening these was checked above.
          emptyMessages++;
        } else {
          api.C_EncryptInit(session, mechanism, key);
          const out = Buffer.from(await api.C_EncryptAsync(session, hex(v.msg), Buffer.alloc(v.msg.length / 2 + 16)));
          if (!out.equals(sealed)) failures.push(`tcId ${v.tcId}: sealing gave other bytes`);
        }
      } else if (v.result === 'invalid') {
        invalid++;
        if (opened !== undefined) failures.push(`tcId ${v.tcId}: invalid vector opened`);
      }
    } finally {
      api.C_DestroyObject(session, key);
    }
  }
  t.deepEqual(failures, []);
  t.is(valid, 39);
  t.is(invalid, 27);
  t.is(emptyMessages, 2, 'two valid vectors have an empty message (opened, not sealed)');
});
