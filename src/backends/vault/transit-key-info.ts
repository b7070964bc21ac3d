// What GET transit/keys/<name> says about a key, parsed and checked: its type, versions
// (latest_version, min_decryption_version, min_encryption_version, min_available_version),
// creation times and public keys — and how that maps onto keyward's KeyVersions. Vault
// drops versions below min_decryption_version from `keys` (archived) and lists no `keys`
// at all for `hmac` keys, so versions are counted from latest_version; those below
// min_decryption_version are 'disabled', those trimmed away 'destroyed'.
import type { KeyAlgorithm, KeyVersionInfo, KeyVersions, KeyVersionState } from '../../core/key-types.js';
import { VaultRequestError } from './vault-request-error.js';

/** The Transit key type for each keyward algorithm. */
export const TRANSIT_TYPE: Readonly<Record<KeyAlgorithm, string>> = Object.freeze({
  'aes-256-gcm': 'aes256-gcm96',
  ed25519: 'ed25519',
  'ecdsa-p256': 'ecdsa-p256',
  'rsa-4096': 'rsa-4096',
  'hmac-sha256': 'hmac',
});

export interface TransitKeyInfo {
  readonly type: string;
  readonly derived: boolean;
  readonly latestVersion: number;
  readonly minDecryptionVersion: number;
  /** 0: encrypt with the latest version. */
  readonly minEncryptionVersion: number;
  readonly minAvailableVersion: number;
  readonly createdAt: ReadonlyMap<number, Date>;
  /** As Vault formats them: base64 of the raw key (Ed25519) or PEM (ECDSA, RSA). */
  readonly publicKeys: ReadonlyMap<number, string>;
}

const nonNegativeInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;

/** Parses the `data` of a read-key answer; throws a protocol error when it is not one. */
export function parseTransitKey(data: unknown, where: string): TransitKeyInfo {
  const bad = (what: string) => new VaultRequestError('protocol', `${where}: unexpected key metadata (${what})`);
  if (data === null || typeof data !== 'object') throw bad('no data');
  const d = data as Record<string, unknown>;
  const { type, latest_version: latest, min_decryption_version: minDec, min_encryption_version: minEnc } = d;
  if (typeof type !== 'string') throw bad('type');
  if (!nonNegativeInt(latest) || latest < 1) throw bad('latest_version');
  if (!nonNegativeInt(minDec)) throw bad('min_decryption_version');
  if (!nonNegativeInt(minEnc)) throw bad('min_encryption_version');
  const minAvailable = nonNegativeInt(d['min_available_version']) ? d['min_available_version'] : 0;
  const createdAt = new Map<number, Date>();
  const publicKeys = new Map<number, string>();
  const keys = d['keys'];
  if (keys !== null && typeof keys === 'object') {
    for (const [name, value] of Object.entries(keys as Record<string, unknown>)) {
      const version = Number(name);
      if (!Number.isSafeInteger(version) || version < 1) continue;
      if (typeof value === 'number') {
        createdAt.set(version, new Date(value * 1000));
      } else if (value !== null && typeof value === 'object') {
        const entry = value as Record<string, unknown>;
        if (typeof entry['creation_time'] === 'string') {
          const at = new Date(entry['creation_time']);
          if (!Number.isNaN(at.getTime())) createdAt.set(version, at);
        }
        if (typeof entry['public_key'] === 'string' && entry['public_key'] !== '') publicKeys.set(version, entry['public_key']);
      }
    }
  }
  return {
    type,
    derived: d['derived'] === true,
    latestVersion: latest,
    minDecryptionVersion: Math.max(1, minDec),
    minEncryptionVersion: minEnc,
    minAvailableVersion: minAvailable,
    createdAt,
    publicKeys,
  };
}

/**
 * The state of a version: usable, or refused by min_decryption_version, or trimmed.
 * Vault deletes the versions *before* min_available_version (keysutil); that version
 * itself is still there — after a full trim it is the primary.
 */
export function versionState(info: TransitKeyInfo, version: number): KeyVersionState {
  if (version < info.minAvailableVersion) return 'destroyed';
  if (version < info.minDecryptionVersion) return 'disabled';
  return 'enabled';
}

/**
 * keyward's view of the key. `knownCreatedAt` supplies creation times Vault no longer
 * lists (archived versions, hmac keys) from earlier reads; unknown ones are the epoch.
 */
export function toKeyVersions(info: TransitKeyInfo, knownCreatedAt: ReadonlyMap<number, Date>): KeyVersions {
  const versions: KeyVersionInfo[] = [];
  for (let v = 1; v <= info.latestVersion; v++) {
    versions.push({ version: v, state: versionState(info, v), createdAt: info.createdAt.get(v) ?? knownCreatedAt.get(v) ?? new Date(0) });
  }
  return { primaryVersion: info.latestVersion, versions };
}

/** A stable string of what the registry cares about, to notice changes. */
export function versionsFingerprint(versions: KeyVersions): string {
  return `${versions.primaryVersion}|${versions.versions.map((v) => `${v.version}:${v.state}`).join(',')}`;
}
