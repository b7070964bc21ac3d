// The on-disk side of the local backend: the root key file and one JSON file per key
// holding its versions' material wrapped under the root key. Every write is atomic
// (temp file, fsync, rename, fsync of the directory) and every file is 0600.
import { randomBytes } from 'node:crypto';
import { constants, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { KeyAlgorithm, KeyPurpose, KeyVersionState } from '../../core/key-types.js';
import { KeywardError } from '../../core/keyward-error.js';
import { readPrivateFile } from '../../core/private-file.js';
import { SecretBytes } from '../../core/secret-bytes.js';

export const ROOT_KEY_BYTES = 32;

/** The key file's `created_by` of a key that offline escrow recovery created. */
export const CREATED_BY_ESCROW_RECOVERY = 'escrow-recovery';

/** One key file: `keys/<key id>.json`. Material is wrapped, never plaintext. */
export interface KeyFile {
  readonly format: 1;
  readonly key_id: string;
  readonly purpose: KeyPurpose;
  readonly algorithm: KeyAlgorithm;
  readonly primary_version: number;
  /**
   * Set when offline escrow recovery created the key (docs/escrow.md): there, the highest
   * recovered version is primary.
   */
  readonly created_by?: typeof CREATED_BY_ESCROW_RECOVERY;
  readonly versions: ReadonlyArray<{
    readonly version: number;
    readonly state: KeyVersionState;
    readonly created_at: string;
    readonly destroy_at?: string;
    /** base64 of nonce(12) | ciphertext | tag(16), AES-256-GCM under the root key. */
    readonly material?: string;
  }>;
}

/** Writes `data` to `file` atomically with mode 0600. */
export async function writeFileAtomic(file: string, data: Uint8Array | string): Promise<void> {
  const tmp = `${file}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  const handle = await fs.open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
  const dir = await fs.open(dirname(file), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

export function keyFilePath(keystoreDir: string, keyId: string): string {
  return join(keystoreDir, 'keys', `${keyId}.json`);
}

async function exists(path: string): Promise<boolean> {
  try {
    await fs.access(path);
    return true;
  } catch {
    return false;
  }
}

async function hasKeyFiles(keystoreDir: string): Promise<boolean> {
  try {
    return (await fs.readdir(join(keystoreDir, 'keys'))).some((f) => f.endsWith('.json'));
  } catch {
    return false;
  }
}

/**
 * Loads the root key, creating it (0600) on first start. Refuses to create a new one
 * when key files exist: they could never be unwrapped again.
 */
export async function loadOrCreateRootKey(keystoreDir: string, rootKeyFile: string): Promise<SecretBytes> {
  await fs.mkdir(join(keystoreDir, 'keys'), { recursive: true, mode: 0o700 });
  if (!(await exists(rootKeyFile))) {
    if (await hasKeyFiles(keystoreDir)) {
      throw new KeywardError(
        'failed-precondition',
        `local backend: root key file ${rootKeyFile} is missing but ${keystoreDir} holds keys; refusing to create a new root key that cannot unwrap them`,
      );
    }
    const fresh = SecretBytes.random(ROOT_KEY_BYTES);
    await fs.mkdir(dirname(rootKeyFile), { recursive: true, mode: 0o700 });
    await writeFileAtomic(rootKeyFile, fresh.expose());
    return fresh;
  }
  const bytes = readPrivateFile(rootKeyFile, `local backend: root key file ${rootKeyFile}`);
  if (bytes.byteLength !== ROOT_KEY_BYTES) {
    bytes.fill(0);
    throw new KeywardError('failed-precondition', `local backend: root key file ${rootKeyFile} must hold exactly ${ROOT_KEY_BYTES} bytes`);
  }
  const root = SecretBytes.copyOf(bytes);
  bytes.fill(0);
  return root;
}

/** Reads a key file, or returns undefined when the key does not exist yet. */
export async function readKeyFile(keystoreDir: string, keyId: string): Promise<KeyFile | undefined> {
  let text: string;
  try {
    text = await fs.readFile(keyFilePath(keystoreDir, keyId), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
  const parsed = JSON.parse(text) as KeyFile;
  if (parsed.format !== 1 || parsed.key_id !== keyId || !Array.isArray(parsed.versions)) {
    throw new KeywardError('failed-precondition', `local backend: key file for "${keyId}" is not a keyward v1 key file`);
  }
  return parsed;
}

export async function writeKeyFile(keystoreDir: string, file: KeyFile): Promise<void> {
  await writeFileAtomic(keyFilePath(keystoreDir, file.key_id), `${JSON.stringify(file, null, 2)}\n`);
}
