// Wycheproof vectors through the service's Verify and VerifyMac paths (the code the
// RPCs run), with the vectors' keys imported through a test-only backend: every valid
// vector verifies, every invalid one is refused, for Ed25519, ECDSA P-256 (DER and
// P1363), RSA-4096 PKCS#1 v1.5 and PSS, and HMAC-SHA-256.
import test from 'ava';
import { createPublicKey } from 'node:crypto';
import type { SignatureScheme } from '../../src/core/key-backend.js';
import type { KeyAlgorithm, KeyPurpose, KeySpec } from '../../src/core/key-types.js';
import { KeyRegistry } from '../../src/keys/key-registry.js';
import { PublicKeyring } from '../../src/keys/public-keyring.js';
import { verifyMac } from '../../src/service/mac.js';
import type { ServiceDeps } from '../../src/service/service-deps.js';
import type { SignatureEncoding } from '../../src/service/sign.js';
import { verify } from '../../src/service/verify.js';
import { ImportedKeyBackend, type ImportedKey } from '../support/imported-key-backend.js';
import { loadWycheproof, type WycheproofFile } from '../support/wycheproof.js';
import { allowAllCaller } from '../support/allow-all-callers.js';

interface Vector {
  tcId: number;
  msg: string;
  sig?: string;
  tag?: string;
  key?: string;
  result: 'valid' | 'invalid' | 'acceptable';
}
interface Group {
  publicKeyPem?: string;
  tagSize?: number;
  tests: Vector[];
}
type Suite = WycheproofFile<Group>;

function load(file: string): Suite {
  return loadWycheproof<Group>(file);
}

const LIMITS = { maxPlaintextBytes: 1 << 20, maxAssociatedDataBytes: 1 << 16, maxBatchItems: 10, maxBatchBytes: 1 << 20 };
const ctx = { method: 'Verify', caller: allowAllCaller };

async function depsFor(keys: Map<string, ImportedKey>, algorithm: KeyAlgorithm, purpose: KeyPurpose): Promise<ServiceDeps> {
  const backend = new ImportedKeyBackend(keys);
  const specs: KeySpec[] = [...keys.keys()].map((keyId) => ({ keyId, purpose, algorithm, backend: backend.name }));
  const registry = await KeyRegistry.open(specs, new Map([[backend.name, backend]]));
  return { registry, keyring: undefined as never, publicKeys: new PublicKeyring(), limits: LIMITS };
}

const SIGNATURE_SUITES: ReadonlyArray<{ file: string; algorithm: KeyAlgorithm; scheme: SignatureScheme; encoding?: SignatureEncoding }> = [
  { file: 'ed25519_test.json', algorithm: 'ed25519', scheme: 'ed25519' },
  { file: 'ecdsa_secp256r1_sha256_test.json', algorithm: 'ecdsa-p256', scheme: 'ecdsa-p256-sha256', encoding: 'der' },
  { file: 'ecdsa_secp256r1_sha256_p1363_test.json', algorithm: 'ecdsa-p256', scheme: 'ecdsa-p256-sha256', encoding: 'p1363' },
  { file: 'rsa_signature_4096_sha256_test.json', algorithm: 'rsa-4096', scheme: 'rsa-pkcs1-sha256' },
  { file: 'rsa_pss_4096_sha256_mgf1_32_test.json', algorithm: 'rsa-4096', scheme: 'rsa-pss-sha256' },
];

for (const suite of SIGNATURE_SUITES) {
  test(`Verify: ${suite.file}`, async (t) => {
    const data = load(suite.file);
    const keys = new Map<string, ImportedKey>();
    data.testGroups.forEach((g, i) => keys.set(`wp-${i}`, { publicKey: createPublicKey(g.publicKeyPem!) }));
    const deps = await depsFor(keys, suite.algorithm, 'sign');
    const wrong: string[] = [];
    let run = 0;
    for (const [i, group] of data.testGroups.entries()) {
      for (const v of group.tests) {
        run++;
        const out = await verify(
          deps,
          {
            keyId: `wp-${i}`,
            message: Buffer.from(v.msg, 'hex'),
            signature: Buffer.from(v.sig!, 'hex'),
            keyVersion: 0,
            scheme: suite.scheme,
            ...(suite.encoding ? { encoding: suite.encoding } : {}),
          },
          ctx,
        );
        if (v.result === 'acceptable') continue;
        if (out.valid !== (v.result === 'valid')) wrong.push(`tcId ${v.tcId}: expected ${v.result}, verified ${out.valid}`);
      }
    }
    t.is(run, data.numberOfTests, 'every vector ran');
    t.deepEqual(wrong, []);
  });
}

test('VerifyMac: hmac_sha256_test.json — full-length tags as Wycheproof says; truncated tags are always refused', async (t) => {
  const data = load('hmac_sha256_test.json');
  const keys = new Map<string, ImportedKey>();
  const vectors: Array<{ keyId: string; v: Vector; tagSize: number }> = [];
  data.testGroups.forEach((g, gi) =>
    g.tests.forEach((v, vi) => {
      const keyId = `wp-${gi}-${vi}`;
      keys.set(keyId, { macKey: Buffer.from(v.key!, 'hex') });
      vectors.push({ keyId, v, tagSize: g.tagSize! });
    }),
  );
  const deps = await depsFor(keys, 'hmac-sha256', 'mac');
  const wrong: string[] = [];
  let full = 0;
  for (const { keyId, v, tagSize } of vectors) {
    const out = await verifyMac(deps, { keyId, data: Buffer.from(v.msg, 'hex'), mac: Buffer.from(v.tag!, 'hex'), keyVersion: 0 }, ctx);
    // keyward accepts only full 256-bit tags: a truncated tag never verifies.
    const expected = tagSize === 256 && v.result === 'valid';
    if (tagSize === 256) full++;
    if (out.valid !== expected) wrong.push(`tcId ${v.tcId} (tag ${tagSize} bits): expected ${expected}, got ${out.valid}`);
  }
  t.is(vectors.length, data.numberOfTests);
  t.true(full > 50, 'most vectors use full-length tags');
  t.deepEqual(wrong, []);
});
