// Version states from Vault's key metadata: below min_decryption_version a version is
// disabled; Vault deletes the versions before min_available_version (after a trim), and
// min_available_version itself — the primary after a full trim — stays usable.
import test from 'ava';
import { versionState, type TransitKeyInfo } from '../../src/backends/vault/transit-key-info.js';

function info(over: Partial<TransitKeyInfo>): TransitKeyInfo {
  return {
    type: 'aes256-gcm96',
    derived: false,
    latestVersion: 5,
    minDecryptionVersion: 1,
    minEncryptionVersion: 0,
    minAvailableVersion: 0,
    createdAt: new Map(),
    publicKeys: new Map(),
    ...over,
  };
}

test('every version is enabled on an untouched key', (t) => {
  for (let v = 1; v <= 5; v++) t.is(versionState(info({}), v), 'enabled');
});

test('below min_decryption_version: disabled', (t) => {
  const k = info({ minDecryptionVersion: 4 });
  t.deepEqual([1, 2, 3, 4, 5].map((v) => versionState(k, v)), ['disabled', 'disabled', 'disabled', 'enabled', 'enabled']);
});

test('after a full trim (min_available = min_decryption = latest) the primary stays enabled; older ones are destroyed', (t) => {
  const k = info({ minDecryptionVersion: 5, minEncryptionVersion: 5, minAvailableVersion: 5 });
  t.deepEqual([1, 2, 3, 4, 5].map((v) => versionState(k, v)), ['destroyed', 'destroyed', 'destroyed', 'destroyed', 'enabled']);
});

test('a partial trim: destroyed before min_available, disabled up to min_decryption', (t) => {
  const k = info({ minDecryptionVersion: 4, minAvailableVersion: 2 });
  t.deepEqual([1, 2, 3, 4, 5].map((v) => versionState(k, v)), ['destroyed', 'disabled', 'disabled', 'enabled', 'enabled']);
});
