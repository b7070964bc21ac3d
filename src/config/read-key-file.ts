// Reads a raw key file the configuration names (the escrow master key) into SecretBytes,
// once at start: exactly `length` bytes, in a file neither group nor others may read (as
// the local backend's root key and the HSM PIN file). Errors name the file, never its bytes.
// The file is opened once and checked and read through that one descriptor: it cannot be
// swapped between the check and the read. Symbolic links are followed — Kubernetes
// mounts Secret files as links into ..data/ — and the checks apply to the file reached.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { KeywardError } from '../core/keyward-error.js';
import { SecretBytes } from '../core/secret-bytes.js';

export function readKeyFile(path: string, length: number, what: string): SecretBytes {
  let bytes: Buffer;
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new KeywardError('failed-precondition', `${what}: ${path} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new KeywardError('failed-precondition', `${what}: ${path} is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    bytes = readFileSync(fd);
  } catch (err) {
    if (err instanceof KeywardError) throw err;
    throw new KeywardError('failed-precondition', `${what}: cannot read ${path} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  const key = bytes.byteLength === length ? SecretBytes.copyOf(bytes) : undefined;
  bytes.fill(0);
  if (key === undefined) throw new KeywardError('failed-precondition', `${what}: ${path} must hold exactly ${length} raw bytes (e.g. head -c ${length} /dev/urandom), not ${bytes.byteLength}`);
  return key;
}
