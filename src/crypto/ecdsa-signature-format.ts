// Converts ECDSA signatures between IEEE P1363 (r || s, what HSMs and JOSE use) and
// the DER SEQUENCE { INTEGER r, INTEGER s } that X.509 tooling and openssl expect.
// Pure encoding: no arithmetic on the values.

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
