// Use case: SignJwt — a compact JWS over the caller's claims, signed by the primary
// version of a signing key. keyward sets "alg" (from the key: EdDSA, ES256, RS256, or
// PS256 when asked for an RSA key) and "kid" ("<key id>/v<version>").
import type { SignatureScheme } from '../core/key-backend.js';
import type { KeyAlgorithm } from '../core/key-types.js';
import { KeywardError } from '../core/keyward-error.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { keyIdOfVersion } from './public-key.js';
import { checkSize, requireKeyId } from './request-checks.js';
import type { ServiceDeps } from './service-deps.js';

const JWS_ALG: Record<SignatureScheme, string> = {
  ed25519: 'EdDSA',
  'ecdsa-p256-sha256': 'ES256',
  'rsa-pkcs1-sha256': 'RS256',
  'rsa-pss-sha256': 'PS256',
};

function schemeFor(algorithm: KeyAlgorithm, requestedAlg: unknown): SignatureScheme {
  const allowed: Partial<Record<KeyAlgorithm, SignatureScheme[]>> = {
    ed25519: ['ed25519'],
    'ecdsa-p256': ['ecdsa-p256-sha256'],
    'rsa-4096': ['rsa-pkcs1-sha256', 'rsa-pss-sha256'],
  };
  const schemes = allowed[algorithm] ?? [];
  if (requestedAlg === undefined) return schemes[0]!;
  const match = schemes.find((s) => JWS_ALG[s] === requestedAlg);
  if (match === undefined) {
    throw KeywardError.invalidArgument(`header_json: alg ${JSON.stringify(requestedAlg)} does not fit a ${algorithm} key (use ${schemes.map((s) => JWS_ALG[s]).join(' or ')})`);
  }
  return match;
}

function parseObject(field: string, text: string, required: boolean): Record<string, unknown> {
  if (text === '' && !required) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw KeywardError.invalidArgument(`${field} is not valid JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw KeywardError.invalidArgument(`${field} must be a JSON object`);
  }
  return value as Record<string, unknown>;
}

const b64url = (bytes: Uint8Array | string) => Buffer.from(bytes).toString('base64url');

export async function signJwt(
  deps: ServiceDeps,
  input: { keyId: string; claimsJson: string; headerJson: string },
  ctx: CallContext,
): Promise<{ jwt: string; keyId: string; keyVersion: number }> {
  requireKeyId(input.keyId);
  authorizeKey(ctx, 'sign', input.keyId);
  checkSize('claims_json', Buffer.from(input.claimsJson), deps.limits.maxPlaintextBytes, 'limits.max_plaintext_bytes');
  checkSize('header_json', Buffer.from(input.headerJson), deps.limits.maxAssociatedDataBytes, 'limits.max_associated_data_bytes');
  const claims = parseObject('claims_json', input.claimsJson, true);
  const extras = parseObject('header_json', input.headerJson, false);
  if ('kid' in extras) throw KeywardError.invalidArgument('header_json: "kid" is set by keyward');
  if ('crit' in extras) throw KeywardError.invalidArgument('header_json: "crit" is not supported');
  const key = deps.registry.forPurpose(input.keyId, 'sign', 'sign');
  const scheme = schemeFor(key.spec.algorithm, extras['alg']);
  const { version } = deps.registry.primaryVersion(key);
  noteKey(ctx, input.keyId, version, key.backend.name);
  const header = { typ: 'JWT', ...extras, alg: JWS_ALG[scheme], kid: keyIdOfVersion(input.keyId, version) };
  const signingInput = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
  const signature = await key.backend.sign(input.keyId, version, scheme, { message: Buffer.from(signingInput, 'ascii') });
  return { jwt: `${signingInput}.${b64url(signature)}`, keyId: input.keyId, keyVersion: version };
}
