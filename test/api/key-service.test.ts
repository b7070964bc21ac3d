// Every KeyService RPC over the real Unix socket with a real grpc-js client: the happy
// paths and batches with a failing item. Signing and MAC: signing.test.ts.
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { DECRYPTION_FAILED_MESSAGE } from '../../src/core/keyward-error.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

let d: TestDaemon;
test.before(async () => {
  d = await startTestDaemon();
});
test.after.always(async () => {
  await d?.dispose();
});

const utf8 = (s: string) => Buffer.from(s, 'utf8');

test('Encrypt then Decrypt round-trips plaintext and associated data', async (t) => {
  const plaintext = utf8('card 4111 1111 1111 1111');
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext, associatedData: utf8('row=42') });
  t.is(enc.keyId, 'alpha');
  t.is(enc.keyVersion, 1);
  t.false(Buffer.from(enc.ciphertext).includes(plaintext));
  const dec = await d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: utf8('row=42') });
  t.deepEqual(Buffer.from(dec.plaintext), plaintext);
  t.is(dec.keyId, 'alpha');
  t.is(dec.keyVersion, 1);
});

test('Encrypt of empty plaintext round-trips', async (t) => {
  const enc = await d.client.encrypt({ keyId: 'beta', plaintext: new Uint8Array(0) });
  const dec = await d.client.decrypt({ ciphertext: enc.ciphertext });
  t.is(dec.plaintext.byteLength, 0);
});

test('Decrypt with other associated data fails with the fixed message', async (t) => {
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext: utf8('x'), associatedData: utf8('a') });
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: enc.ciphertext, associatedData: utf8('b') }), status.INVALID_ARGUMENT, DECRYPTION_FAILED_MESSAGE);
});

test('ReEncrypt moves a ciphertext to another key without returning plaintext', async (t) => {
  const enc = await d.client.encrypt({ keyId: 'alpha', plaintext: utf8('move me'), associatedData: utf8('ctx') });
  const moved = await d.client.reEncrypt({ ciphertext: enc.ciphertext, associatedData: utf8('ctx'), destinationKeyId: 'gamma' });
  t.is(moved.keyId, 'gamma');
  t.false(Object.keys(moved).includes('plaintext'));
  const dec = await d.client.decrypt({ ciphertext: moved.ciphertext, associatedData: utf8('ctx') });
  t.is(Buffer.from(dec.plaintext).toString(), 'move me');
  t.is(dec.keyId, 'gamma');
});

test('ReEncrypt without a destination moves to the primary version of its own key', async (t) => {
  const key = 'beta';
  const before = await d.client.encrypt({ keyId: key, plaintext: utf8('old version') });
  const rotated = await d.admin.rotateKey({ keyId: key });
  const primary = rotated.key!.primaryVersion;
  t.is(primary, before.keyVersion + 1);
  const moved = await d.client.reEncrypt({ ciphertext: before.ciphertext });
  t.is(moved.keyId, key);
  t.is(moved.keyVersion, primary);
  t.is(Buffer.from((await d.client.decrypt({ ciphertext: moved.ciphertext })).plaintext).toString(), 'old version');
  // The old ciphertext still decrypts after rotation.
  t.is((await d.client.decrypt({ ciphertext: before.ciphertext })).keyVersion, before.keyVersion);
});

test('GenerateDataKey returns a 32-byte key whose wrapped form opens with Decrypt', async (t) => {
  const dk = await d.client.generateDataKey({ keyId: 'alpha', associatedData: utf8('bulk') });
  t.is(dk.plaintextKey.byteLength, 32);
  t.is(dk.keyId, 'alpha');
  t.false(Buffer.from(dk.plaintextKey).equals(Buffer.alloc(32)));
  const dec = await d.client.decrypt({ ciphertext: dk.wrappedKey, associatedData: utf8('bulk') });
  t.deepEqual(Buffer.from(dec.plaintext), Buffer.from(dk.plaintextKey));
  const other = await d.client.generateDataKey({ keyId: 'alpha', associatedData: utf8('bulk') });
  t.false(Buffer.from(other.plaintextKey).equals(Buffer.from(dk.plaintextKey)));
});

test('EncryptBatch and DecryptBatch give one result per item; a bad item fails alone', async (t) => {
  const enc = await d.client.encryptBatch({
    items: [
      { keyId: 'alpha', plaintext: utf8('one') },
      { keyId: 'no-such-key', plaintext: utf8('two') },
      { keyId: 'signer', plaintext: utf8('three') },
      { keyId: 'gamma', plaintext: utf8('four'), associatedData: utf8('ad4') },
    ],
  });
  t.is(enc.results.length, 4);
  const [r0, r1, r2, r3] = enc.results;
  t.is(r0!.result.case, 'response');
  t.is(r1!.result.case, 'error');
  t.is(r1!.result.case === 'error' ? r1!.result.value.code : -1, status.NOT_FOUND);
  t.is(r2!.result.case === 'error' ? r2!.result.value.code : -1, status.FAILED_PRECONDITION);
  t.is(r3!.result.case, 'response');
  const ct0 = r0!.result.case === 'response' ? r0!.result.value.ciphertext : new Uint8Array();
  const ct3 = r3!.result.case === 'response' ? r3!.result.value.ciphertext : new Uint8Array();
  const dec = await d.client.decryptBatch({
    items: [
      { ciphertext: ct0 },
      { ciphertext: ct3, associatedData: utf8('wrong') },
      { ciphertext: utf8('garbage garbage') },
      { ciphertext: ct3, associatedData: utf8('ad4') },
    ],
  });
  t.is(dec.results.length, 4);
  const [d0, d1, d2, d3] = dec.results;
  t.is(d0!.result.case === 'response' ? Buffer.from(d0!.result.value.plaintext).toString() : '', 'one');
  t.deepEqual(d1!.result.case === 'error' ? [d1!.result.value.code, d1!.result.value.message] : [], [status.INVALID_ARGUMENT, DECRYPTION_FAILED_MESSAGE]);
  t.is(d2!.result.case === 'error' ? d2!.result.value.code : -1, status.INVALID_ARGUMENT);
  t.is(d3!.result.case === 'response' ? Buffer.from(d3!.result.value.plaintext).toString() : '', 'four');
});
