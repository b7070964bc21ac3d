// Use case: GetPublicKey — the public half of a signing key version as SPKI PEM and as
// a JWK (kid = "<key id>/v<version>"), plus a JWKS of every version that may still
// verify, so relying parties can verify offline (e.g. JWTs from SignJwt).
import type { KeyObject } from 'node:crypto';
import type { KeyAlgorithm } from '../core/key-types.js';
import type { RegisteredKey } from '../keys/key-registry.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { requireKeyId } from './request-checks.js';
import type { ServiceDeps } from './service-deps.js';

/** The JOSE "alg" of a key algorithm; RSA keys serve RS256 and PS256, so none. */
/** A JWK as node:crypto exports it, plus the JOSE members keyward sets. */
export type JsonWebKey = Record<string, unknown> & { kid: string; use: 'sig'; alg?: string };

const JWK_ALG: Partial<Record<KeyAlgorithm, string>> = { ed25519: 'EdDSA', 'ecdsa-p256': 'ES256' };

export function keyIdOfVersion(keyId: string, version: number): string {
  return `${keyId}/v${version}`;
}

function toJwk(key: RegisteredKey, version: number, publicKey: KeyObject): JsonWebKey {
  const alg = JWK_ALG[key.spec.algorithm];
  return { ...publicKey.export({ format: 'jwk' }), kid: keyIdOfVersion(key.spec.keyId, version), use: 'sig', ...(alg ? { alg } : {}) };
}

export interface PublicKeyOutput {
  readonly keyId: string;
  readonly keyVersion: number;
  readonly pem: string;
  readonly jwk: JsonWebKey;
  readonly jwks: { keys: JsonWebKey[] };
}

export async function getPublicKey(
  deps: ServiceDeps,
  input: { keyId: string; keyVersion: number },
  ctx: CallContext,
): Promise<PublicKeyOutput> {
  requireKeyId(input.keyId);
  authorizeKey(ctx, 'public_key', input.keyId);
  const key = deps.registry.forPurpose(input.keyId, 'sign', 'export a public key');
  const { version } = deps.registry.namedVersion(key, input.keyVersion);
  noteKey(ctx, input.keyId, version, key.backend.name);
  const publicKey = await deps.publicKeys.get(key, version);
  const verifying = key.versions.versions.filter((v) => v.state === 'enabled');
  const jwks = await Promise.all(verifying.map(async (v) => toJwk(key, v.version, await deps.publicKeys.get(key, v.version))));
  return {
    keyId: input.keyId,
    keyVersion: version,
    pem: publicKey.export({ format: 'pem', type: 'spki' }).toString(),
    jwk: toJwk(key, version, publicKey),
    jwks: { keys: jwks },
  };
}
