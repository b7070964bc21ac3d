// The contract every KEK backend must pass (local now; vault and pkcs11 run the same
// suite). Call runKeyBackendContract from a backend's own test file with a factory that
// makes a fresh, opened backend and can reopen one on the same storage.
import test from 'ava';
import { constants, createHash, verify } from 'node:crypto';
import type { KeyBackend, SignatureScheme } from '../../src/core/key-backend.js';
import type { KeySpec } from '../../src/core/key-types.js';
import { isKeywardError } from '../../src/core/keyward-error.js';

export interface BackendHarness {
  /** A fresh backend, opened, on fresh storage. */
  create(): Promise<KeyBackend>;
  /** A second backend instance on the storage of `previous` (a "fresh process"). */
  reopen(previous: KeyBackend): Promise<KeyBackend>;
  /** Removes whatever storage the harness made. */
  cleanup(): Promise<void>;
}

const ENCRYPT_KEY: KeySpec = { keyId: 'contract-kek', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'x' };
const OTHER_KEY: KeySpec = { keyId: 'contract-other', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'x' };
const SIGNING_KEYS: ReadonlyArray<{ spec: KeySpec; schemes: SignatureScheme[] }> = [
  { spec: { keyId: 'contract-ed25519', purpose: 'sign', algorithm: 'ed25519', backend: 'x' }, schemes: ['ed25519'] },
  { spec: { keyId: 'contract-p256', purpose: 'sign', algorithm: 'ecdsa-p256', backend: 'x' }, schemes: ['ecdsa-p256-sha256'] },
  { spec: { keyId: 'contract-rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'x' }, schemes: ['rsa-pkcs1-sha256', 'rsa-pss-sha256'] },
];
const MAC_KEY: KeySpec = { keyId: 'contract-mac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'x' };

/** Verifies with node:crypto, code we did not write, as the backend's signature claims. */
function verifiesWithNode(scheme: SignatureScheme, message: Buffer, signature: Buffer, key: import('node:crypto').KeyObject): boolean {
  return verify(scheme === 'ed25519' ? null : 'sha256', message, {
    key,
    dsaEncoding: 'ieee-p1363',
    ...(scheme === 'rsa-pss-sha256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
  }, signature);
}

function codeOf(err: unknown): string {
  return isKeywardError(err) ? err.code : `not a KeywardError: ${String(err)}`;
}

export function runKeyBackendContract(kind: string, harness: BackendHarness): void {
  const title = (s: string) => `[${kind} backend contract] ${s}`;
  const opened: KeyBackend[] = [];
  const fresh = async () => {
    const b = await harness.create();
    opened.push(b);
    await b.ensureKey({ ...ENCRYPT_KEY, backend: b.name });
    await b.ensureKey({ ...OTHER_KEY, backend: b.name });
    return b;
  };
  test.after.always(async () => {
    await Promise.allSettled(opened.map((b) => b.close()));
    await harness.cleanup();
  });

  test(title('ensureKey creates version 1, enabled and primary, and is idempotent'), async (t) => {
    const b = await fresh();
    t.is(b.kind, kind);
    t.true(b.isReady());
    const again = await b.ensureKey({ ...ENCRYPT_KEY, backend: b.name });
    t.is(again.primaryVersion, 1);
    t.deepEqual(again.versions.map((v) => [v.version, v.state]), [[1, 'enabled']]);
    t.true(again.versions[0]!.createdAt instanceof Date);
  });

  test(title('a DEK generated and wrapped unwraps to the same 32 bytes; DEKs differ'), async (t) => {
    const b = await fresh();
    const dk = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    t.is(dk.plaintext.length, 32);
    t.true(dk.wrapped.byteLength > 0);
    const unwrapped = await b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, dk.wrapped);
    t.true(unwrapped.expose().equals(dk.plaintext.expose()));
    const other = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    t.false(other.plaintext.expose().equals(dk.plaintext.expose()));
    t.false(Buffer.from(dk.wrapped).includes(dk.plaintext.expose()), 'the wrapped DEK does not carry the plaintext');
  });

  test(title('a wrapped DEK is bound to its key and version; tampering fails with decryption-failed'), async (t) => {
    const b = await fresh();
    await b.rotateKey(ENCRYPT_KEY.keyId);
    const dk = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    const asOtherKey = await t.throwsAsync(b.unwrapDataKey(OTHER_KEY.keyId, 1, dk.wrapped));
    t.is(codeOf(asOtherKey), 'decryption-failed');
    const asOtherVersion = await t.throwsAsync(b.unwrapDataKey(ENCRYPT_KEY.keyId, 2, dk.wrapped));
    t.is(codeOf(asOtherVersion), 'decryption-failed');
    const tampered = Buffer.from(dk.wrapped);
    tampered[tampered.length - 1]! ^= 0x80;
    t.is(codeOf(await t.throwsAsync(b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, tampered))), 'decryption-failed');
    t.is(codeOf(await t.throwsAsync(b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, tampered.subarray(0, 5)))), 'decryption-failed');
  });

  test(title('rotateKey adds a new primary version; older versions still unwrap'), async (t) => {
    const b = await fresh();
    const old = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    const rotated = await b.rotateKey(ENCRYPT_KEY.keyId);
    t.is(rotated.primaryVersion, 2);
    t.deepEqual(rotated.versions.map((v) => [v.version, v.state]), [[1, 'enabled'], [2, 'enabled']]);
    t.deepEqual(await b.describeKey(ENCRYPT_KEY.keyId), rotated);
    const fresh2 = await b.generateDataKey(ENCRYPT_KEY.keyId, 2);
    t.true((await b.unwrapDataKey(ENCRYPT_KEY.keyId, 2, fresh2.wrapped)).expose().equals(fresh2.plaintext.expose()));
    t.true((await b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, old.wrapped)).expose().equals(old.plaintext.expose()));
  });

  test(title('an unknown key is not-found'), async (t) => {
    const b = await fresh();
    t.is(codeOf(await t.throwsAsync(b.describeKey('missing'))), 'not-found');
    t.is(codeOf(await t.throwsAsync(b.rotateKey('missing'))), 'not-found');
    t.is(codeOf(await t.throwsAsync(b.generateDataKey('missing', 1))), 'not-found');
  });

  test(title('an existing key declared with another purpose or algorithm is failed-precondition'), async (t) => {
    const b = await fresh();
    const err = await t.throwsAsync(b.ensureKey({ ...ENCRYPT_KEY, purpose: 'mac', algorithm: 'hmac-sha256', backend: b.name }));
    t.is(codeOf(err), 'failed-precondition');
  });

  test(title('a fresh instance on the same storage unwraps what the first wrapped, at every version'), async (t) => {
    const b = await fresh();
    const v1 = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    await b.rotateKey(ENCRYPT_KEY.keyId);
    const v2 = await b.generateDataKey(ENCRYPT_KEY.keyId, 2);
    await b.close();
    const again = await harness.reopen(b);
    opened.push(again);
    const versions = await again.ensureKey({ ...ENCRYPT_KEY, backend: again.name });
    t.is(versions.primaryVersion, 2);
    t.true((await again.unwrapDataKey(ENCRYPT_KEY.keyId, 1, v1.wrapped)).expose().equals(v1.plaintext.expose()));
    t.true((await again.unwrapDataKey(ENCRYPT_KEY.keyId, 2, v2.wrapped)).expose().equals(v2.plaintext.expose()));
  });

  test(title('100 concurrent wraps and unwraps all succeed'), async (t) => {
    const b = await fresh();
    const dks = await Promise.all(Array.from({ length: 100 }, () => b.generateDataKey(ENCRYPT_KEY.keyId, 1)));
    const back = await Promise.all(dks.map((dk) => b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, dk.wrapped)));
    back.forEach((u, i) => t.true(u.expose().equals(dks[i]!.plaintext.expose())));
  });

  test(title('signing keys sign in every scheme of their algorithm; node:crypto verifies; rotation keeps old public keys'), async (t) => {
    const b = await fresh();
    const message = Buffer.from('contract message to sign');
    for (const { spec, schemes } of SIGNING_KEYS) {
      const versions = await b.ensureKey({ ...spec, backend: b.name });
      t.is(versions.primaryVersion, 1);
      const publicKey = await b.publicKey(spec.keyId, 1);
      t.is(publicKey.type, 'public');
      for (const scheme of schemes) {
        const signature = await b.sign(spec.keyId, 1, scheme, { message });
        if (scheme === 'ecdsa-p256-sha256') t.is(signature.byteLength, 64, 'ECDSA crosses the interface as P1363');
        t.true(verifiesWithNode(scheme, message, signature, publicKey), `${spec.keyId} ${scheme}`);
        t.false(verifiesWithNode(scheme, Buffer.from('another message'), signature, publicKey));
      }
      const rotated = await b.rotateKey(spec.keyId);
      t.is(rotated.primaryVersion, 2);
      const v2 = await b.publicKey(spec.keyId, 2);
      t.false(v2.equals(publicKey), 'a new version has a new key pair');
      t.true((await b.publicKey(spec.keyId, 1)).equals(publicKey));
      const s2 = await b.sign(spec.keyId, 2, schemes[0]!, { message });
      t.true(verifiesWithNode(schemes[0]!, message, s2, v2));
      t.false(verifiesWithNode(schemes[0]!, message, s2, publicKey));
    }
  });

  test(title('a scheme of another algorithm, or an operation of another purpose, is failed-precondition'), async (t) => {
    const b = await fresh();
    const ed = SIGNING_KEYS[0]!.spec;
    await b.ensureKey({ ...ed, backend: b.name });
    await b.ensureKey({ ...MAC_KEY, backend: b.name });
    const message = { message: Buffer.from('m') };
    t.is(codeOf(await t.throwsAsync(b.sign(ed.keyId, 1, 'rsa-pss-sha256', message))), 'failed-precondition');
    t.is(codeOf(await t.throwsAsync(b.sign(ENCRYPT_KEY.keyId, 1, 'ed25519', message))), 'failed-precondition');
    t.is(codeOf(await t.throwsAsync(b.mac(ed.keyId, 1, Buffer.from('m')))), 'failed-precondition');
    t.is(codeOf(await t.throwsAsync(b.generateDataKey(MAC_KEY.keyId, 1))), 'failed-precondition');
    t.is(codeOf(await t.throwsAsync(b.publicKey(MAC_KEY.keyId, 1))), 'failed-precondition');
  });

  test(title('HMAC-SHA-256 is deterministic per version, differs across versions and data'), async (t) => {
    const b = await fresh();
    await b.ensureKey({ ...MAC_KEY, backend: b.name });
    const data = Buffer.from('webhook body');
    const m1 = await b.mac(MAC_KEY.keyId, 1, data);
    t.is(m1.byteLength, 32);
    t.true(m1.equals(await b.mac(MAC_KEY.keyId, 1, data)));
    t.false(m1.equals(await b.mac(MAC_KEY.keyId, 1, Buffer.from('webhook body!'))));
    t.false(m1.equals(createHash('sha256').update(data).digest()), 'keyed, not a bare hash');
    await b.rotateKey(MAC_KEY.keyId);
    t.false(m1.equals(await b.mac(MAC_KEY.keyId, 2, data)));
    t.true(m1.equals(await b.mac(MAC_KEY.keyId, 1, data)), 'older versions still verify');
  });

  test(title('after close the backend is not ready and refuses calls'), async (t) => {
    const b = await fresh();
    const dk = await b.generateDataKey(ENCRYPT_KEY.keyId, 1);
    await b.close();
    t.false(b.isReady());
    t.is(codeOf(await t.throwsAsync(b.unwrapDataKey(ENCRYPT_KEY.keyId, 1, dk.wrapped))), 'unavailable');
    t.is(codeOf(await t.throwsAsync(b.generateDataKey(ENCRYPT_KEY.keyId, 1))), 'unavailable');
  });
}
