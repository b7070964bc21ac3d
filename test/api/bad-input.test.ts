// Every bad input the foundation issue names, over the real socket, each checked by
// its exact gRPC code (and message where the contract fixes it).
import test from 'ava';
import { status } from '@grpc/grpc-js';
import { DECRYPTION_FAILED_MESSAGE } from '../../src/core/keyward-error.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const LIMITS = { max_plaintext_bytes: 1024, max_associated_data_bytes: 64, max_batch_items: 4, max_batch_bytes: 4096 };
let d: TestDaemon;
let alphaCt: Buffer;

test.before(async () => {
  d = await startTestDaemon({ overrides: { limits: LIMITS } });
  alphaCt = Buffer.from((await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('secret'), associatedData: Buffer.from('ad') })).ciphertext);
});
test.after.always(async () => {
  await d?.dispose();
});

/** Offsets in an envelope v1 with key id "alpha" (docs/ciphertext-format.md). */
const KEY_ID_AT = 5;
const VERSION_AT = KEY_ID_AT + 'alpha'.length;
const WRAPPED_AT = VERSION_AT + 4 + 2;

function modified(edit: (b: Buffer) => void): Buffer {
  const copy = Buffer.from(alphaCt);
  edit(copy);
  return copy;
}

test('unknown key id → NOT_FOUND', async (t) => {
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'nope', plaintext: Buffer.from('x') }), status.NOT_FOUND, 'key "nope" not found');
  await rejectsWithCode(t, d.client.generateDataKey({ keyId: 'nope' }), status.NOT_FOUND);
  await rejectsWithCode(t, d.client.reEncrypt({ ciphertext: alphaCt, associatedData: Buffer.from('ad'), destinationKeyId: 'nope' }), status.NOT_FOUND);
});

test('empty key_id → INVALID_ARGUMENT naming the field', async (t) => {
  await rejectsWithCode(t, d.client.encrypt({ keyId: '', plaintext: Buffer.from('x') }), status.INVALID_ARGUMENT, 'key_id is required');
  await rejectsWithCode(t, d.client.generateDataKey({}), status.INVALID_ARGUMENT, 'key_id is required');
});

test('missing ciphertext → INVALID_ARGUMENT naming the field', async (t) => {
  await rejectsWithCode(t, d.client.decrypt({}), status.INVALID_ARGUMENT, 'ciphertext is required');
  await rejectsWithCode(t, d.client.reEncrypt({}), status.INVALID_ARGUMENT, 'ciphertext is required');
});

test('plaintext over the limit → INVALID_ARGUMENT stating the limit; at the limit it works', async (t) => {
  await rejectsWithCode(
    t,
    d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.alloc(1025) }),
    status.INVALID_ARGUMENT,
    'plaintext is 1025 bytes; the limit is 1024 bytes (limits.max_plaintext_bytes)',
  );
  const ok = await d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.alloc(1024, 7), associatedData: Buffer.alloc(64, 1) });
  t.is(ok.keyId, 'alpha');
});

test('associated data over the limit → INVALID_ARGUMENT stating the limit', async (t) => {
  await rejectsWithCode(
    t,
    d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.from('x'), associatedData: Buffer.alloc(65) }),
    status.INVALID_ARGUMENT,
    'associated_data is 65 bytes; the limit is 64 bytes (limits.max_associated_data_bytes)',
  );
});

test('a message far over the limits is refused by the transport with RESOURCE_EXHAUSTED', async (t) => {
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'alpha', plaintext: Buffer.alloc(2 * 1024 * 1024) }), status.RESOURCE_EXHAUSTED);
});

test('batch over the item limit or the byte limit → INVALID_ARGUMENT stating the limit', async (t) => {
  const item = { keyId: 'alpha', plaintext: Buffer.from('x') };
  await rejectsWithCode(
    t,
    d.client.encryptBatch({ items: [item, item, item, item, item] }),
    status.INVALID_ARGUMENT,
    'items has 5 entries; the limit is 4 (limits.max_batch_items)',
  );
  const big = { keyId: 'alpha', plaintext: Buffer.alloc(1024) };
  // Exactly at the byte limit is allowed.
  t.is((await d.client.encryptBatch({ items: [big, big, big, big] })).results.length, 4);
  await rejectsWithCode(
    t,
    d.client.encryptBatch({ items: [big, big, big, { ...big, associatedData: Buffer.alloc(1) }] }),
    status.INVALID_ARGUMENT,
    'the items hold 4097 bytes in all; the limit is 4096 bytes (limits.max_batch_bytes)',
  );
  await rejectsWithCode(t, d.client.decryptBatch({ items: [] }), status.INVALID_ARGUMENT, 'items is empty');
});

test('truncated ciphertext → INVALID_ARGUMENT', async (t) => {
  for (const length of [1, 4, 20, alphaCt.length - 1]) {
    await rejectsWithCode(t, d.client.decrypt({ ciphertext: alphaCt.subarray(0, length), associatedData: Buffer.from('ad') }), status.INVALID_ARGUMENT);
  }
});

test('garbage → INVALID_ARGUMENT: not a keyward ciphertext', async (t) => {
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: Buffer.from('this is not a ciphertext at all, not even close to one; it is just text') }), status.INVALID_ARGUMENT, 'ciphertext is malformed: not a keyward ciphertext');
});

test('unknown format version → INVALID_ARGUMENT naming the version', async (t) => {
  const v9 = modified((b) => (b[3] = 9));
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: v9, associatedData: Buffer.from('ad') }), status.INVALID_ARGUMENT, 'ciphertext is malformed: unknown format version 9');
});

test('tampered body, tag, salt, commitment or wrapped DEK → INVALID_ARGUMENT with the one fixed message', async (t) => {
  const offsets = {
    wrapped: WRAPPED_AT + 3,
    body: alphaCt.length - 17,
    tag: alphaCt.length - 1,
    salt: alphaCt.length - 16 - 6 - 32 - 12 - 32 + 1,
    nonce: alphaCt.length - 16 - 6 - 32 - 5,
    commitment: alphaCt.length - 16 - 6 - 1,
  };
  for (const [what, at] of Object.entries(offsets)) {
    const tampered = modified((b) => (b[at] = b[at]! ^ 0x01));
    const err = await rejectsWithCode(t, d.client.decrypt({ ciphertext: tampered, associatedData: Buffer.from('ad') }), status.INVALID_ARGUMENT);
    t.is(err.details, DECRYPTION_FAILED_MESSAGE, what);
  }
});

test('wrong associated data, or none → INVALID_ARGUMENT with the one fixed message', async (t) => {
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: alphaCt, associatedData: Buffer.from('AD') }), status.INVALID_ARGUMENT, DECRYPTION_FAILED_MESSAGE);
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: alphaCt }), status.INVALID_ARGUMENT, DECRYPTION_FAILED_MESSAGE);
});

test('a ciphertext of another key (header rewritten to name it) → INVALID_ARGUMENT with the one fixed message', async (t) => {
  const relabelled = modified((b) => b.write('gamma', KEY_ID_AT, 'latin1'));
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: relabelled, associatedData: Buffer.from('ad') }), status.INVALID_ARGUMENT, DECRYPTION_FAILED_MESSAGE);
});

test('a ciphertext naming an unknown key or version → NOT_FOUND', async (t) => {
  const unknownKey = modified((b) => b.write('zzzzz', KEY_ID_AT, 'latin1'));
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: unknownKey, associatedData: Buffer.from('ad') }), status.NOT_FOUND, 'key "zzzzz" not found');
  const unknownVersion = modified((b) => b.writeUInt32BE(99, VERSION_AT));
  await rejectsWithCode(t, d.client.decrypt({ ciphertext: unknownVersion, associatedData: Buffer.from('ad') }), status.NOT_FOUND, 'key "alpha" has no version 99');
});

test('a sign or mac key asked to encrypt → FAILED_PRECONDITION', async (t) => {
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'signer', plaintext: Buffer.from('x') }), status.FAILED_PRECONDITION, 'key "signer" is a sign key and cannot be used to encrypt');
  await rejectsWithCode(t, d.client.encrypt({ keyId: 'hmac', plaintext: Buffer.from('x') }), status.FAILED_PRECONDITION, 'key "hmac" is a mac key and cannot be used to encrypt');
  await rejectsWithCode(t, d.client.generateDataKey({ keyId: 'signer' }), status.FAILED_PRECONDITION);
  await rejectsWithCode(t, d.client.reEncrypt({ ciphertext: alphaCt, associatedData: Buffer.from('ad'), destinationKeyId: 'signer' }), status.FAILED_PRECONDITION);
});
