// Reads a secret the configuration names by file or environment variable (a Vault
// token, an AppRole secret_id, a service-account JWT, a TLS client key). Read at each
// use, not once: Vault Agent and the kubelet rotate these files in place. Errors name
// the file or variable, never the content.
import { readFile } from 'node:fs/promises';
import { KeywardError } from '../../core/keyward-error.js';
import type { SecretSource } from './vault-backend-settings.js';

/** Largest secret file read (a projected service-account token is a few KiB). */
const MAX_SECRET_BYTES = 64 * 1024;

export function describeSource(source: SecretSource): string {
  return 'file' in source ? `file ${source.file}` : `environment variable ${source.env}`;
}

/** The secret, trimmed of surrounding whitespace (files usually end with a newline). */
export async function readSecret(source: SecretSource, what: string): Promise<string> {
  let value: string | undefined;
  if ('file' in source) {
    let bytes: Buffer;
    try {
      bytes = await readFile(source.file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'error';
      throw new KeywardError('failed-precondition', `vault backend: cannot read the ${what} from ${describeSource(source)}: ${code}`);
    }
    try {
      if (bytes.length > MAX_SECRET_BYTES) {
        throw new KeywardError('failed-precondition', `vault backend: the ${what} in ${describeSource(source)} is larger than ${MAX_SECRET_BYTES} bytes`);
      }
      value = bytes.toString('utf8').trim();
    } finally {
      bytes.fill(0);
    }
  } else {
    value = process.env[source.env]?.trim();
  }
  if (value === undefined || value === '') {
    throw new KeywardError('failed-precondition', `vault backend: the ${what} in ${describeSource(source)} is empty or missing`);
  }
  return value;
}
