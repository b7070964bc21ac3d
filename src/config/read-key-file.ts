// Reads a raw key file the configuration names (the escrow master key) into SecretBytes,
// once at start: exactly `length` bytes, in a file neither group nor others may read (as
// the local backend's root key and the HSM PIN file). Errors name the file, never its bytes.
import { readFileSync, statSync } from 'node:fs';
import { KeywardError } from '../core/keyward-error.js';
import { SecretBytes } from '../core/secret-bytes.js';

export function readKeyFile(path: string, length: number, what: string): SecretBytes {
  let bytes: Buffer;
  try {
    const mode = statSync(path).mode;
    if ((mode & 0o077) !== 0) {
      throw new KeywardError('failed-precondition', `${what}: ${path} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
    }
    bytes = readFileSync(path);
  } catch (err) {
    if (err instanceof KeywardError) throw err;
    throw new KeywardError('failed-precondition', `${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
  const key = bytes.byteLength === length ? SecretBytes.copyOf(bytes) : undefined;
  bytes.fill(0);
  if (key === undefined) throw new KeywardError('failed-precondition', `${what}: ${path} must hold exactly ${length} raw bytes (e.g. head -c ${length} /dev/urandom), not ${bytes.byteLength}`);
  return key;
}
