// The Shamir wrapper of key escrow: K of N shares recover the sealed key material and
// nothing less does; a tampered share, a relabelled escrow or a wrong master key is one
// opaque `decryption-failed`; shares of different escrows, a share given twice or too few
// shares are `invalid-argument`; the share format refuses malformed bytes before use.
import test from 'ava';
import { randomBytes } from 'node:crypto';
import { isKeywardError, type KeywardErrorCode } from '../../src/core/keyward-error.js';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import { decodeEscrowShare, encodeEscrowShare, type EscrowHeader, type EscrowShare } from '../../src/crypto/escrow-share-format.js';
import { combineAndOpen, escrowOfShares, sealAndSplit } from '../../src/crypto/key-escrow.js';

const MATERIAL = Buffer.from('0123456789abcdef0123456789abcdef', 'latin1');

function header(overrides: Partial<EscrowHeader> = {}): EscrowHeader {
  return {
    escrowId: randomBytes(16).toString('hex'),
    keyId: 'payments-db',
    keyVersion: 3,
    algorithm: 'aes-256-gcm',
    purpose: 'encrypt',
    threshold: 3,
    total: 5,
    ...overrides,
  };
}

async function splitShares(h: EscrowHeader, masterKey: SecretBytes): Promise<EscrowShare[]> {
  const encoded = await sealAndSplit(SecretBytes.copyOf(MATERIAL), masterKey, h);
  return encoded.map((bytes, i) => decodeEscrowShare(bytes, `shares[${i}]`));
}

async function recover(shares: EscrowShare[], masterKey: SecretBytes): Promise<Buffer> {
  const material = await combineAndOpen(escrowOfShares(shares), shares, masterKey);
  const copy = Buffer.from(material.expose());
  material.dispose();
  return copy;
}

async function codeOf(promise: Promise<unknown> | (() => unknown)): Promise<KeywardErrorCode | string> {
  try {
    await (typeof promise === 'function' ? promise() : promise);
  } catch (err) {
    return isKeywardError(err) ? `${err.code}: ${err.message}` : `not a KeywardError: ${String(err)}`;
  }
  return 'no error';
}

const master = SecretBytes.random(32);

test('any K of N shares recover the material, and so do all N', async (t) => {
  const shares = await splitShares(header(), master);
  t.is(shares.length, 5);
  t.deepEqual(shares.map((s) => s.index), [1, 2, 3, 4, 5]);
  for (const pick of [[0, 1, 2], [4, 2, 0], [1, 3, 4], [0, 1, 2, 3, 4]]) {
    t.deepEqual(await recover(pick.map((i) => shares[i]!), master), MATERIAL, `shares ${pick.join(',')}`);
  }
});

test('a share holds neither the material nor the master key, in any form', async (t) => {
  const encoded = await sealAndSplit(SecretBytes.copyOf(MATERIAL), master, header());
  for (const secret of [MATERIAL, master.expose()]) {
    for (const form of [secret, Buffer.from(secret.toString('hex')), Buffer.from(secret.toString('base64'))]) {
      t.false(encoded.some((share) => share.includes(form)));
    }
  }
});

test('K-1 shares: invalid-argument before any cryptography; forced through, they recover nothing', async (t) => {
  const shares = await splitShares(header(), master);
  t.regex(await codeOf(() => escrowOfShares(shares.slice(0, 2))), /^invalid-argument: escrow [0-9a-f]{32} needs 3 of its 5 shares but got 2$/);
  const forced = await codeOf(combineAndOpen(shares[0]!.header, shares.slice(0, 2), master));
  t.is(forced, 'decryption-failed: decryption failed');
});

test('a tampered share, a moved x coordinate or a wrong master key: one opaque decryption-failed', async (t) => {
  const h = header();
  const shares = await splitShares(h, master);
  const tamper = (share: EscrowShare, at: number): EscrowShare => {
    const payload = Buffer.from(share.payload);
    payload[at]! ^= 0x01;
    return { ...share, payload };
  };
  const outcomes = [
    await codeOf(recover([tamper(shares[0]!, 5), shares[1]!, shares[2]!], master)),
    await codeOf(recover([tamper(shares[0]!, shares[0]!.payload.byteLength - 1), shares[1]!, shares[2]!], master)),
    await codeOf(recover([{ ...shares[0]!, payload: shares[0]!.payload.subarray(1) }, shares[1]!, shares[2]!], master)),
    await codeOf(recover(shares.slice(0, 3), SecretBytes.random(32))),
  ];
  t.deepEqual(outcomes, Array(4).fill('decryption-failed: decryption failed'));
});

test('shares relabelled consistently (another version, key or threshold) do not open: the header is the seal\'s associated data', async (t) => {
  const h = header();
  const shares = await splitShares(h, master);
  for (const relabel of [{ keyVersion: 4 }, { keyId: 'other-db' }, { escrowId: randomBytes(16).toString('hex') }, { total: 6 }]) {
    const moved = shares.slice(0, 3).map((s) => decodeEscrowShare(encodeEscrowShare({ ...s, header: { ...h, ...relabel } }), 'x'));
    t.is(await codeOf(recover(moved, master)), 'decryption-failed: decryption failed', JSON.stringify(relabel));
  }
});

test('shares of two escrows, or one share twice (also relabelled with another index): invalid-argument', async (t) => {
  const a = await splitShares(header(), master);
  const b = await splitShares(header(), master);
  t.regex(await codeOf(() => escrowOfShares([a[0]!, a[1]!, b[2]!])), /^invalid-argument: shares\[2\] belongs to escrow [0-9a-f]{32} .*combine shares of one escrow$/);
  t.is(await codeOf(() => escrowOfShares([a[0]!, a[1]!, a[1]!])), 'invalid-argument: shares[2] is a share already given (share 2)');
  // The header's index is a label: the same Shamir share under index 3 is still share 2.
  t.is(await codeOf(() => escrowOfShares([a[0]!, a[1]!, { ...a[1]!, index: 3 }])), 'invalid-argument: shares[2] is a share already given (share 3)');
  t.is(await codeOf(() => escrowOfShares([a[0]!, a[1]!, { ...a[2]!, payload: Buffer.concat([a[2]!.payload.subarray(0, -1), Buffer.of(0)]) }])), 'invalid-argument: shares[2] is not a share (no x coordinate)');
  t.is(await codeOf(() => escrowOfShares([])), 'invalid-argument: shares is required');
});

test('the share format round-trips and refuses malformed bytes', async (t) => {
  const h = header({ keyId: 'artifact-signing', algorithm: 'ed25519', purpose: 'sign', threshold: 2, total: 16 });
  const share: EscrowShare = { header: h, index: 16, payload: randomBytes(81) };
  const bytes = encodeEscrowShare(share);
  const back = decodeEscrowShare(bytes, 'shares[0]');
  t.deepEqual({ ...back, payload: Buffer.from(back.payload) }, { ...share, payload: Buffer.from(share.payload) });
  const bad = (mutate: (b: Buffer) => Buffer) => codeOf(() => decodeEscrowShare(mutate(Buffer.from(bytes)), 'shares[1]'));
  t.is(await bad((b) => b.subarray(0, b.byteLength - 1)), 'invalid-argument: shares[1] is not a keyward escrow share: truncated in share');
  t.is(await bad((b) => Buffer.concat([b, Buffer.of(0)])), 'invalid-argument: shares[1] is not a keyward escrow share: 1 bytes after the share');
  t.is(await bad((b) => ((b[0] = 0x58), b)), 'invalid-argument: shares[1] is not a keyward escrow share: wrong magic');
  t.regex(await bad((b) => ((b[4] = 2), b)), /format 2 is not supported/);
  t.is(await bad(() => Buffer.alloc(0)), 'invalid-argument: shares[1] is not a keyward escrow share: truncated in magic');
  const tooMany = encodeEscrowShare({ ...share, header: { ...h, total: 17 } });
  t.is(await codeOf(() => decodeEscrowShare(tooMany, 's')), 'invalid-argument: s is not a keyward escrow share: threshold 2 of 17');
  const wrongPurpose = encodeEscrowShare({ ...share, header: { ...h, purpose: 'encrypt' } });
  t.is(await codeOf(() => decodeEscrowShare(wrongPurpose, 's')), 'invalid-argument: s is not a keyward escrow share: unknown algorithm encrypt/ed25519');
  const badIndex = encodeEscrowShare({ ...share, index: 0 });
  t.is(await codeOf(() => decodeEscrowShare(badIndex, 's')), 'invalid-argument: s is not a keyward escrow share: index 0 of 16');
});
