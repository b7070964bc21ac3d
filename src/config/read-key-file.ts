// Reads a raw key file the configuration names (the escrow master key) into SecretBytes,
// once at start: exactly `length` bytes, read as every secret file is (core/private-file.ts).
import { readPrivateFile } from '../core/private-file.js';
import { KeywardError } from '../core/keyward-error.js';
import { SecretBytes } from '../core/secret-bytes.js';

export function readKeyFile(path: string, length: number, what: string): SecretBytes {
  const bytes = readPrivateFile(path, `${what} ${path}`);
  const key = bytes.byteLength === length ? SecretBytes.copyOf(bytes) : undefined;
  bytes.fill(0);
  if (key === undefined) throw new KeywardError('failed-precondition', `${what}: ${path} must hold exactly ${length} raw bytes (e.g. head -c ${length} /dev/urandom), not ${bytes.byteLength}`);
  return key;
}
