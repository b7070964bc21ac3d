// Runs every AES-GCM vector of Project Wycheproof through our AES-GCM layer: valid
// vectors must open and reseal to the same bytes, invalid ones (modified tags, empty
// IVs) must be refused. The counts are checked against the file so nothing is skipped.
// OpenSSL 3 (under Node 24) caps GCM IVs at 128 bytes: the three LongIv vectors with a
// 257-byte IV are refused by node:crypto with ERR_CRYPTO_INVALID_IV. They are counted
// and reported as unsupported (never a wrong result); the envelope uses 12-byte nonces.
import test from 'ava';
import { aesGcmOpen, aesGcmSeal } from '../../src/crypto/aes-gcm.js';
import { hex, loadWycheproof, type AesGcmGroup, type AesGcmVector } from '../support/wycheproof.js';

type WycheproofTest = AesGcmVector;

function loadVectors() {
  return loadWycheproof<AesGcmGroup>('aes_gcm_test.json', 'AES-GCM');
}

/** The largest GCM IV OpenSSL 3 accepts (its GCM_IV_MAX_SIZE). */
const OPENSSL_MAX_GCM_IV_BYTES = 128;

type Outcome =
  | { kind: 'opened'; plaintext: Buffer }
  | { kind: 'refused' }
  | { kind: 'range-error' }
  | { kind: 'unsupported-iv' };

function isInvalidIvError(err: unknown): boolean {
  return err instanceof TypeError && (err as NodeJS.ErrnoException).code === 'ERR_CRYPTO_INVALID_IV';
}

function open(v: WycheproofTest): Outcome {
  try {
    const pt = aesGcmOpen(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad));
    return pt === null ? { kind: 'refused' } : { kind: 'opened', plaintext: pt };
  } catch (err) {
    if (err instanceof RangeError) return { kind: 'range-error' };
    if (isInvalidIvError(err)) return { kind: 'unsupported-iv' };
    throw err;
  }
}

test('every Wycheproof AES-GCM vector gives the expected result', (t) => {
  const file = loadVectors();
  const failures: string[] = [];
  let processed = 0;
  let valid = 0;
  let invalid = 0;
  const unsupported: number[] = [];

  for (const group of file.testGroups) {
    t.is(group.tagSize, 128, `group with tag size ${group.tagSize} is not supported by this harness`);
    for (const v of group.tests) {
      processed += 1;
      const id = `tcId ${v.tcId} [${v.flags.join(',')}] iv ${group.ivSize} bits`;
      const outcome = open(v);
      if (v.result === 'valid') {
        valid += 1;
        if (outcome.kind === 'unsupported-iv' && hex(v.iv).byteLength > OPENSSL_MAX_GCM_IV_BYTES) {
          // Refused by the platform, not mis-decrypted; sealing must refuse it as well.
          unsupported.push(v.tcId);
          try {
            aesGcmSeal(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
            failures.push(`${id}: seal accepted an IV that open refused`);
          } catch (err) {
            if (!isInvalidIvError(err)) failures.push(`${id}: seal threw ${String(err)}`);
          }
          continue;
        }
        if (outcome.kind !== 'opened') {
          failures.push(`${id}: valid vector was ${outcome.kind}`);
          continue;
        }
        if (!outcome.plaintext.equals(hex(v.msg))) failures.push(`${id}: wrong plaintext`);
        const sealed = aesGcmSeal(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
        if (!sealed.ciphertext.equals(hex(v.ct))) failures.push(`${id}: seal gave a different ciphertext`);
        if (!sealed.tag.equals(hex(v.tag))) failures.push(`${id}: seal gave a different tag`);
      } else if (v.result === 'invalid') {
        invalid += 1;
        if (outcome.kind === 'opened') {
          failures.push(`${id}: invalid vector was accepted`);
          continue;
        }
        if (outcome.kind === 'range-error' && hex(v.iv).byteLength !== 0) {
          failures.push(`${id}: RangeError for a non-empty IV`);
        }
        if (hex(v.iv).byteLength === 0) {
          // An empty IV must be refused on the sealing side too.
          if (outcome.kind !== 'range-error') failures.push(`${id}: empty IV was not a RangeError on open`);
          try {
            aesGcmSeal(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
            failures.push(`${id}: seal accepted an empty IV`);
          } catch (err) {
            if (!(err instanceof RangeError)) failures.push(`${id}: seal with empty IV threw ${String(err)}`);
          }
        } else {
          // A modified tag: our seal of the same input must give a tag other than the vector's.
          const sealed = aesGcmSeal(hex(v.key), hex(v.iv), hex(v.msg), hex(v.aad));
          if (sealed.tag.equals(hex(v.tag))) failures.push(`${id}: seal reproduced the invalid tag`);
        }
      } else {
        failures.push(`${id}: result "${v.result}" is not handled by this harness`);
      }
    }
  }

  t.deepEqual(failures, []);
  t.is(processed, file.numberOfTests, 'vectors processed must equal numberOfTests');
  t.is(valid + invalid, file.numberOfTests);
  t.true(valid > 0 && invalid > 0, `expected both valid and invalid vectors, got ${valid} / ${invalid}`);
  // Only valid vectors with IVs over OpenSSL's limit may be unsupported, and only a few.
  t.true(unsupported.length <= 3, `unsupported vectors: ${unsupported.join(', ')}`);
  if (unsupported.length > 0) {
    t.log(`${unsupported.length} LongIv vectors with IVs over ${OPENSSL_MAX_GCM_IV_BYTES} bytes refused by node:crypto: tcId ${unsupported.join(', ')}`);
  }
  t.log(`${processed} vectors: ${valid} valid (${valid - unsupported.length} verified), ${invalid} invalid refused`);
});

test('the harness notices a broken tag (it can fail)', (t) => {
  const file = loadVectors();
  const v = file.testGroups.flatMap((g) => g.tests).find((x) => x.result === 'valid' && x.flags.includes('Ktv'));
  if (v === undefined) {
    t.fail('no known-answer vector in the file');
    return;
  }
  const tag = hex(v.tag);
  tag[0] = tag[0]! ^ 0x01;
  t.is(aesGcmOpen(hex(v.key), hex(v.iv), hex(v.ct), tag, hex(v.aad)), null);
  t.is(aesGcmOpen(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag).subarray(0, 12), hex(v.aad)), null, 'short tag');
  t.not(aesGcmOpen(hex(v.key), hex(v.iv), hex(v.ct), hex(v.tag), hex(v.aad)), null);
});
