// The byte layout of one key escrow share (policy §7). A share says what it belongs to —
// escrow id, key id and version, algorithm, purpose, threshold K and total N — and which
// share it is, so that CombineKeyEscrow needs nothing but the shares. The header without
// the index is also the associated data of the sealed key material: a share relabelled
// to another key, version or escrow can never open. docs/escrow.md shows the layout.
//
//   "KWES" | format 1 (u8) | escrow id (16) | key version (u32 BE) | K (u8) | N (u8)
//   | purpose (u8 length, ASCII) | algorithm (u8 length, ASCII) | key id (u8 length, ASCII)
//   | index (u8, 1..N) | share length (u32 BE) | Shamir share of the sealed material
import { ALGORITHMS_BY_PURPOSE, KEY_ID_PATTERN, type KeyAlgorithm, type KeyPurpose } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';

export const ESCROW_ID_BYTES = 16;
/** Bounds of a split: 2 ≤ threshold ≤ total ≤ ESCROW_MAX_SHARES. */
export const ESCROW_MIN_SHARES = 2;
export const ESCROW_MAX_SHARES = 16;
/** Far above the largest sealed key (RSA-4096 PKCS#8, ~2.4 KB): refuses absurd lengths. */
const MAX_PAYLOAD_BYTES = 64 * 1024;
const MAGIC = Buffer.from('KWES', 'latin1');
const FORMAT_VERSION = 1;

/** What every share of one escrow has in common. */
export interface EscrowHeader {
  /** 32 lowercase hex digits. */
  readonly escrowId: string;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly algorithm: KeyAlgorithm;
  readonly purpose: KeyPurpose;
  readonly threshold: number;
  readonly total: number;
}

export interface EscrowShare {
  readonly header: EscrowHeader;
  /** 1..total. */
  readonly index: number;
  /** The Shamir share (its last byte is the x coordinate). */
  readonly payload: Uint8Array;
}

function ascii(value: string): Buffer {
  return Buffer.concat([Buffer.of(value.length), Buffer.from(value, 'latin1')]);
}

/** The header's bytes: the sealed material's associated data and the start of every share. */
export function encodeEscrowHeader(h: EscrowHeader): Buffer {
  const fixed = Buffer.alloc(MAGIC.byteLength + 1 + ESCROW_ID_BYTES + 4 + 2);
  MAGIC.copy(fixed, 0);
  let at = fixed.writeUInt8(FORMAT_VERSION, MAGIC.byteLength);
  at += fixed.write(h.escrowId, at, ESCROW_ID_BYTES, 'hex');
  at = fixed.writeUInt32BE(h.keyVersion, at);
  at = fixed.writeUInt8(h.threshold, at);
  fixed.writeUInt8(h.total, at);
  return Buffer.concat([fixed, ascii(h.purpose), ascii(h.algorithm), ascii(h.keyId)]);
}

export function encodeEscrowShare(share: EscrowShare): Buffer {
  const tail = Buffer.alloc(5);
  tail.writeUInt8(share.index, 0);
  tail.writeUInt32BE(share.payload.byteLength, 1);
  return Buffer.concat([encodeEscrowHeader(share.header), tail, share.payload]);
}

/** Reads a share front to back; every read is bounds-checked. */
class ShareReader {
  #at = 0;
  constructor(
    private readonly bytes: Buffer,
    private readonly field: string,
  ) {}

  fail(what: string): never {
    throw KeywardError.invalidArgument(`${this.field} is not a keyward escrow share: ${what}`);
  }

  take(n: number, what: string): Buffer {
    if (this.#at + n > this.bytes.byteLength) this.fail(`truncated in ${what}`);
    const out = this.bytes.subarray(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }

  u8(what: string): number {
    return this.take(1, what).readUInt8(0);
  }

  u32(what: string): number {
    return this.take(4, what).readUInt32BE(0);
  }

  text(what: string): string {
    return this.take(this.u8(what), what).toString('latin1');
  }

  end(): void {
    if (this.#at !== this.bytes.byteLength) this.fail(`${this.bytes.byteLength - this.#at} bytes after the share`);
  }
}

function readHeader(r: ShareReader): EscrowHeader {
  if (!r.take(MAGIC.byteLength, 'magic').equals(MAGIC)) r.fail('wrong magic');
  const format = r.u8('format');
  if (format !== FORMAT_VERSION) r.fail(`format ${format} is not supported (this keyward reads format ${FORMAT_VERSION})`);
  const escrowId = r.take(ESCROW_ID_BYTES, 'escrow id').toString('hex');
  const keyVersion = r.u32('key version');
  const threshold = r.u8('threshold');
  const total = r.u8('total');
  const purpose = r.text('purpose') as KeyPurpose;
  const algorithm = r.text('algorithm') as KeyAlgorithm;
  const keyId = r.text('key id');
  if (keyVersion < 1) r.fail('key version 0');
  if (!(ESCROW_MIN_SHARES <= threshold && threshold <= total && total <= ESCROW_MAX_SHARES)) r.fail(`threshold ${threshold} of ${total}`);
  if (!Object.hasOwn(ALGORITHMS_BY_PURPOSE, purpose) || !ALGORITHMS_BY_PURPOSE[purpose].includes(algorithm)) r.fail(`unknown algorithm ${purpose}/${algorithm}`);
  if (!KEY_ID_PATTERN.test(keyId)) r.fail('bad key id');
  return { escrowId, keyId, keyVersion, algorithm, purpose, threshold, total };
}

/**
 * Parses one share; `field` names it in errors ("shares[2]"). The payload is a view
 * into `bytes`. Malformed input is `invalid-argument`: its structure is no secret.
 */
export function decodeEscrowShare(bytes: Uint8Array, field: string): EscrowShare {
  const r = new ShareReader(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), field);
  const header = readHeader(r);
  const index = r.u8('index');
  if (index < 1 || index > header.total) r.fail(`index ${index} of ${header.total}`);
  const length = r.u32('share length');
  if (length < 2 || length > MAX_PAYLOAD_BYTES) r.fail(`share length ${length}`);
  const payload = r.take(length, 'share');
  r.end();
  return { header, index, payload };
}

export function sameEscrow(a: EscrowHeader, b: EscrowHeader): boolean {
  return (
    a.escrowId === b.escrowId &&
    a.keyId === b.keyId &&
    a.keyVersion === b.keyVersion &&
    a.algorithm === b.algorithm &&
    a.purpose === b.purpose &&
    a.threshold === b.threshold &&
    a.total === b.total
  );
}
