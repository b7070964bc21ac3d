// Converts ECDSA signatures between IEEE P1363 (r || s, what HSMs and JOSE use) and
// the DER SEQUENCE { INTEGER r, INTEGER s } that X.509 tooling and openssl expect.
// Pure encoding: no arithmetic on the values. The DER reader is strict (canonical
// lengths and integers only), so a malleated encoding never verifies.

/** DER-encodes one unsigned big-endian integer as an ASN.1 INTEGER. */
function derInteger(value: Uint8Array): Buffer {
  let start = 0;
  while (start < value.length - 1 && value[start] === 0) start++;
  const body = value.subarray(start);
  const pad = body[0]! & 0x80 ? 1 : 0;
  const out = Buffer.alloc(2 + pad + body.length);
  out[0] = 0x02;
  out[1] = pad + body.length;
  out.set(body, 2 + pad);
  return out;
}

/** r || s (each `size` bytes) → DER. Throws RangeError on a wrong length. */
export function p1363ToDer(signature: Uint8Array, size = 32): Buffer {
  if (signature.length !== 2 * size) throw new RangeError(`a P1363 signature must be ${2 * size} bytes`);
  const r = derInteger(signature.subarray(0, size));
  const s = derInteger(signature.subarray(size));
  const length = r.length + s.length;
  // P-256 and P-384 sequences stay under 128 bytes: short-form length.
  if (length > 127) throw new RangeError('signature too long for this encoder');
  return Buffer.concat([Buffer.from([0x30, length]), r, s]);
}

/** Reads one DER INTEGER at `at`; returns its unsigned value and the next offset, or null. */
function readDerInteger(der: Uint8Array, at: number): { value: Uint8Array; next: number } | null {
  if (der[at] !== 0x02) return null;
  const length = der[at + 1];
  if (length === undefined || length === 0 || length > 0x7f || at + 2 + length > der.length) return null;
  const value = der.subarray(at + 2, at + 2 + length);
  if (value[0]! & 0x80) return null; // negative
  if (length > 1 && value[0] === 0 && !(value[1]! & 0x80)) return null; // not minimal
  return { value: value[0] === 0 ? value.subarray(1) : value, next: at + 2 + length };
}

/** Strict DER → r || s (each `size` bytes), or null when the encoding is not canonical. */
export function derToP1363(der: Uint8Array, size = 32): Buffer | null {
  if (der.length < 8 || der[0] !== 0x30 || der[1] !== der.length - 2 || der[1]! > 0x7f) return null;
  const r = readDerInteger(der, 2);
  if (r === null) return null;
  const s = readDerInteger(der, r.next);
  if (s === null || s.next !== der.length || r.value.length > size || s.value.length > size) return null;
  const out = Buffer.alloc(2 * size);
  out.set(r.value, size - r.value.length);
  out.set(s.value, 2 * size - s.value.length);
  return out;
}
