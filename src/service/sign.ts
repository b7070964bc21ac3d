// Use case: Sign — sign a message (or its SHA-256 digest) with the primary version of a
// signing key. ECDSA signatures are DER unless the caller asks for P1363 (JOSE).
import type { SignatureScheme } from '../core/key-backend.js';
import { p1363ToDer } from '../crypto/ecdsa-signature-format.js';
import { noteKey, type CallContext } from './call-context.js';
import type { ServiceDeps } from './service-deps.js';
import { signingKeyFor, type MessageOrDigest } from './signature-options.js';

export type SignatureEncoding = 'der' | 'p1363';

export interface SignInputs extends MessageOrDigest {
  readonly keyId: string;
  /** Undefined: the key's default scheme. */
  readonly scheme?: SignatureScheme;
  /** ECDSA only; DER by default. */
  readonly encoding?: SignatureEncoding;
}

export interface SignOutput {
  readonly signature: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
  readonly scheme: SignatureScheme;
}

export async function sign(deps: ServiceDeps, input: SignInputs, ctx: CallContext): Promise<SignOutput> {
  const { key, scheme, signInput } = signingKeyFor(deps, input, ctx, 'sign');
  const { version } = deps.registry.primaryVersion(key);
  noteKey(ctx, input.keyId, version, key.backend.name);
  const raw = await key.backend.sign(input.keyId, version, scheme, signInput);
  const signature = scheme === 'ecdsa-p256-sha256' && input.encoding !== 'p1363' ? p1363ToDer(raw) : raw;
  return { signature, keyId: input.keyId, keyVersion: version, scheme };
}
