// Reads a file holding a secret (a root key, an escrow master key, an HSM PIN) the one way
// the daemon trusts: opened once, checked and read through that one descriptor — so it
// cannot be swapped between the check and the read — as a regular file that neither group
// nor others may read. Symbolic links are followed (Kubernetes mounts Secret files as
// links) and the checks apply to the file reached. Messages name the file, never its bytes.
import { closeSync, constants, fstatSync, openSync, readFileSync } from 'node:fs';
import { KeywardError } from './keyward-error.js';

/**
 * The file's bytes (the caller wipes them). `name` says what the file is and where, e.g.
 * "the PIN file /etc/keyward/hsm.pin": it opens every failed-precondition message.
 */
export function readPrivateFile(path: string, name: string): Buffer {
  let fd: number | undefined;
  try {
    fd = openSync(path, constants.O_RDONLY);
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw new KeywardError('failed-precondition', `${name} is not a regular file`);
    if ((stat.mode & 0o077) !== 0) {
      throw new KeywardError('failed-precondition', `${name} is readable by group or others (mode ${(stat.mode & 0o777).toString(8)}); chmod 600 it`);
    }
    return readFileSync(fd);
  } catch (err) {
    if (err instanceof KeywardError) throw err;
    throw new KeywardError('failed-precondition', `cannot read ${name}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
