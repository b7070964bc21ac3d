// The Shamir wrapper of key escrow (policy §7): key material is sealed with AES-256-GCM
// under the escrow master key, bound to its escrow header, and the sealed bytes are split
// with the audited `shamir-secret-sharing` (GF(2^8)) so that any K of N shares give them
// back. The library only ever sees ciphertext: fewer than K shares reveal nothing, and K
// shares without the master key reveal nothing either. Whatever keeps shares from opening
// — a tampered share, a wrong master key — is one opaque `decryption-failed`.
import { randomBytes } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { KeywardError } from '../core/keyward-error.js';
import { SecretBytes } from '../core/secret-bytes.js';
import { aesGcmOpen, aesGcmSeal, GCM_TAG_BYTES } from './aes-gcm.js';
import { encodeEscrowHeader, encodeEscrowShare, sameEscrow, type EscrowHeader, type EscrowShare } from './escrow-share-format.js';

const NONCE_BYTES = 12;

/** The library accepts only plain Uint8Arrays (constructor === Uint8Array), not Buffers. */
const plain = (bytes: Uint8Array): Uint8Array => new Uint8Array(bytes);

/** Seals `material` under `masterKey` and splits it into `header.total` encoded shares. */
export async function sealAndSplit(material: SecretBytes, masterKey: SecretBytes, header: EscrowHeader): Promise<Buffer[]> {
  const nonce = randomBytes(NONCE_BYTES);
  const { ciphertext, tag } = aesGcmSeal(masterKey.expose(), nonce, material.expose(), encodeEscrowHeader(header));
  const payloads = await split(plain(Buffer.concat([nonce, ciphertext, tag])), header.total, header.threshold);
  return payloads.map((payload, i) => encodeEscrowShare({ header, index: i + 1, payload }));
}

/**
 * The escrow that decoded shares belong to, once they are enough of one escrow:
 * `invalid-argument` for shares of different escrows, a share given twice, or fewer
 * than the threshold.
 */
export function escrowOfShares(shares: readonly EscrowShare[]): EscrowHeader {
  const first = shares[0];
  if (first === undefined) throw KeywardError.invalidArgument('shares is required');
  const seen = new Set<number>();
  shares.forEach((share, i) => {
    if (!sameEscrow(share.header, first.header)) {
      throw KeywardError.invalidArgument(
        `shares[${i}] belongs to escrow ${share.header.escrowId} (key "${share.header.keyId}" v${share.header.keyVersion}), shares[0] to escrow ${first.header.escrowId}: combine shares of one escrow`,
      );
    }
    // The Shamir x coordinate (the payload's last byte), not the header's index label,
    // tells shares apart: a copy relabelled with another index is still the same share.
    const x = share.payload[share.payload.byteLength - 1];
    if (x === undefined || x === 0) throw KeywardError.invalidArgument(`shares[${i}] is not a share (no x coordinate)`);
    if (seen.has(x)) throw KeywardError.invalidArgument(`shares[${i}] is a share already given (share ${share.index})`);
    seen.add(x);
  });
  const { threshold, total } = first.header;
  if (shares.length < threshold) {
    throw KeywardError.invalidArgument(`escrow ${first.header.escrowId} needs ${threshold} of its ${total} shares but got ${shares.length}`);
  }
  return first.header;
}

/** Combines shares of one escrow (escrowOfShares first) and opens the sealed material. */
export async function combineAndOpen(header: EscrowHeader, shares: readonly EscrowShare[], masterKey: SecretBytes): Promise<SecretBytes> {
  let sealed: Uint8Array;
  try {
    sealed = await combine(shares.map((s) => plain(s.payload)));
  } catch (err) {
    // Shares of unequal length or with equal x coordinates: altered after the split.
    throw KeywardError.decryptionFailed(err);
  }
  try {
    if (sealed.byteLength < NONCE_BYTES + GCM_TAG_BYTES) throw KeywardError.decryptionFailed(new Error('escrow: combined shares too short'));
    const opened = aesGcmOpen(
      masterKey.expose(),
      sealed.subarray(0, NONCE_BYTES),
      sealed.subarray(NONCE_BYTES, sealed.byteLength - GCM_TAG_BYTES),
      sealed.subarray(sealed.byteLength - GCM_TAG_BYTES),
      encodeEscrowHeader(header),
    );
    if (opened === null) throw KeywardError.decryptionFailed(new Error(`escrow ${header.escrowId}: the combined shares do not authenticate`));
    const material = SecretBytes.copyOf(opened);
    opened.fill(0);
    return material;
  } finally {
    sealed.fill(0);
  }
}
