// Use case: Verify — check a signature with the public key of the named version (the
// primary by default), locally with node:crypto. A version that is no longer enabled,
// or a malformed signature, verifies as false; it is never an internal error.
import { constants, verify as verifySignature } from 'node:crypto';
import type { SignatureScheme } from '../core/key-backend.js';
import { KeywardError } from '../core/keyward-error.js';
import { derToP1363 } from '../crypto/ecdsa-signature-format.js';
import { noteKey, type CallContext } from './call-context.js';
import type { ServiceDeps } from './service-deps.js';
import { signingKeyFor, type MessageOrDigest } from './signature-options.js';
import type { SignatureEncoding } from './sign.js';

export interface VerifyInputs extends MessageOrDigest {
  readonly keyId: string;
  readonly signature: Uint8Array;
  /** 0: the primary version. */
  readonly keyVersion: number;
  readonly scheme?: SignatureScheme;
  readonly encoding?: SignatureEncoding;
}

export interface VerifyOutput {
  readonly valid: boolean;
  readonly keyId: string;
  readonly keyVersion: number;
}

export async function verify(deps: ServiceDeps, input: VerifyInputs, ctx: CallContext): Promise<VerifyOutput> {
  const { key, scheme, signInput } = signingKeyFor(deps, input, ctx, 'verify');
  const info = deps.registry.namedVersion(key, input.keyVersion);
  const version = info.version;
  const result = { keyId: input.keyId, keyVersion: version };
  noteKey(ctx, input.keyId, version, key.backend.name);
  if (info.state !== 'enabled') return { ...result, valid: false };
  if (!('message' in signInput)) {
    if (key.backend.verifyDigest === undefined) {
      throw new KeywardError('unimplemented', `the ${key.backend.kind} backend cannot verify a precomputed digest: send message`);
    }
    const p1363 = scheme === 'ecdsa-p256-sha256' && input.encoding !== 'p1363' ? derToP1363(input.signature) : input.signature;
    if (p1363 === null) return { ...result, valid: false };
    return { ...result, valid: await key.backend.verifyDigest(input.keyId, version, scheme, signInput.digest, p1363) };
  }
  const publicKey = await deps.publicKeys.get(key, version);
  try {
    const valid = verifySignature(
      scheme === 'ed25519' ? null : 'sha256',
      signInput.message,
      {
        key: publicKey,
        dsaEncoding: input.encoding === 'p1363' ? 'ieee-p1363' : 'der',
        ...(scheme === 'rsa-pss-sha256' ? { padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : {}),
      },
      input.signature,
    );
    return { ...result, valid };
  } catch {
    // OpenSSL refuses some malformed encodings outright: that is a bad signature.
    return { ...result, valid: false };
  }
}
