// Reads a secret the configuration names by file or environment variable (never
// inline). Errors name the file or variable, never the value.
import { readFileSync } from 'node:fs';
import { KeywardError } from '../core/keyward-error.js';
import type { SecretRef } from './config-schema.js';

export function readSecretRef(ref: SecretRef, what: string): Buffer {
  if ('env' in ref) {
    const value = process.env[ref.env];
    if (value === undefined || value === '') throw new KeywardError('failed-precondition', `${what}: environment variable ${ref.env} is not set`);
    return Buffer.from(value, 'utf8');
  }
  try {
    return readFileSync(ref.file);
  } catch (err) {
    throw new KeywardError('failed-precondition', `${what}: cannot read ${ref.file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`, { cause: err });
  }
}
