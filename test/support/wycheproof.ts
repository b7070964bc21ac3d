// Loads a Wycheproof vector file from ../shared/testdata/wycheproof (the shared test data
// is the repository's sibling; ava runs from the repository root), failing loudly when
// it is missing or is not the algorithm the caller expects.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

export interface WycheproofFile<G> {
  readonly algorithm: string;
  readonly numberOfTests: number;
  readonly testGroups: G[];
}

/** The AES-GCM vector shape (aes_gcm_test.json). */
export interface AesGcmVector {
  readonly tcId: number;
  readonly comment: string;
  readonly flags: string[];
  readonly key: string;
  readonly iv: string;
  readonly aad: string;
  readonly msg: string;
  readonly ct: string;
  readonly tag: string;
  readonly result: 'valid' | 'invalid' | 'acceptable';
}

export interface AesGcmGroup {
  readonly type: string;
  readonly keySize: number;
  readonly ivSize: number;
  readonly tagSize: number;
  readonly tests: AesGcmVector[];
}

export const WYCHEPROOF_DIR = resolve(process.cwd(), '..', 'shared', 'testdata', 'wycheproof');

export function loadWycheproof<G>(file: string, algorithm?: string): WycheproofFile<G> {
  const path = resolve(WYCHEPROOF_DIR, file);
  if (!existsSync(path)) throw new Error(`Wycheproof vectors not found at ${path} (run ava from the repository root)`);
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as WycheproofFile<G>;
  if (!Array.isArray(parsed.testGroups) || (algorithm !== undefined && parsed.algorithm !== algorithm)) {
    throw new Error(`${path} is not a Wycheproof ${algorithm ?? ''} file`);
  }
  return parsed;
}

export const hex = (s: string): Buffer => Buffer.from(s, 'hex');
