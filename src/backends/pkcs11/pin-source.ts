// Reads the token's user PIN from where the configuration points — a file or an
// environment variable, never the configuration itself — into SecretBytes. Every message
// names where the PIN was looked for and what is wrong, never the PIN.
import { readPrivateFile } from '../../core/private-file.js';
import { KeywardError } from '../../core/keyward-error.js';
import { SecretBytes } from '../../core/secret-bytes.js';

export type PinSource = { readonly file: string } | { readonly env: string };

/** "the PIN file /run/secrets/hsm-pin" or "the environment variable KEYWARD_HSM_PIN". */
export function describePinSource(source: PinSource): string {
  return 'file' in source ? `the PIN file ${source.file}` : `the environment variable ${source.env}`;
}

/**
 * The PIN, with one trailing newline removed (files written by `echo` end with one).
 * The file must not be readable by group or others.
 */
export function readPin(source: PinSource, env: Readonly<Record<string, string | undefined>> = process.env): SecretBytes {
  let bytes: Buffer;
  if ('file' in source) {
    bytes = readPrivateFile(source.file, describePinSource(source));
  } else {
    const value = env[source.env];
    if (value === undefined || value === '') {
      throw new KeywardError('failed-precondition', `${describePinSource(source)} is not set`);
    }
    bytes = Buffer.from(value, 'utf8');
  }
  let end = bytes.length;
  if (end > 0 && bytes[end - 1] === 0x0a) end--;
  if (end > 0 && bytes[end - 1] === 0x0d) end--;
  const pin = SecretBytes.copyOf(bytes.subarray(0, end));
  bytes.fill(0);
  if (pin.length === 0) {
    pin.dispose();
    throw new KeywardError('failed-precondition', `${describePinSource(source)} is empty`);
  }
  return pin;
}
