// The escrow master key as the daemon and offline recovery load it (docs/escrow.md): read
// once from escrow.master_key_file, 32 bytes, 0600; the caller disposes of it when done.
import type { Config } from '../config/config-schema.js';
import { readKeyFile } from '../config/read-key-file.js';
import type { SecretBytes } from '../core/secret-bytes.js';

/** AES-256: the escrow master key seals escrowed key material. */
const ESCROW_MASTER_KEY_BYTES = 32;

/** The key, or undefined when escrow is not configured. */
export function loadEscrowMasterKey(config: Config): SecretBytes | undefined {
  if (config.escrow === undefined) return undefined;
  return readKeyFile(config.escrow.master_key_file, ESCROW_MASTER_KEY_BYTES, 'escrow.master_key_file');
}
