// Use cases: ComputeMac and VerifyMac — HMAC-SHA-256 with a MAC key. Verification
// recomputes with the named version (primary by default) and compares in constant time.
import { timingSafeEqual } from 'node:crypto';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { checkSize, requireKeyId } from './request-checks.js';
import type { ServiceDeps } from './service-deps.js';

export interface MacOutput {
  readonly mac: Buffer;
  readonly keyId: string;
  readonly keyVersion: number;
}

export async function computeMac(deps: ServiceDeps, input: { keyId: string; data: Uint8Array }, ctx: CallContext): Promise<MacOutput> {
  requireKeyId(input.keyId);
  authorizeKey(ctx, 'mac', input.keyId);
  checkSize('data', input.data, deps.limits.maxPlaintextBytes, 'limits.max_plaintext_bytes');
  const key = deps.registry.forPurpose(input.keyId, 'mac', 'compute a MAC');
  const { version } = deps.registry.primaryVersion(key);
  noteKey(ctx, input.keyId, version, key.backend.name);
  return { mac: await key.backend.mac(input.keyId, version, input.data), keyId: input.keyId, keyVersion: version };
}

export interface VerifyMacInput {
  readonly keyId: string;
  readonly data: Uint8Array;
  readonly mac: Uint8Array;
  /** 0: the primary version. */
  readonly keyVersion: number;
}

export async function verifyMac(
  deps: ServiceDeps,
  input: VerifyMacInput,
  ctx: CallContext,
): Promise<{ valid: boolean; keyId: string; keyVersion: number }> {
  requireKeyId(input.keyId);
  authorizeKey(ctx, 'verify', input.keyId);
  checkSize('data', input.data, deps.limits.maxPlaintextBytes, 'limits.max_plaintext_bytes');
  const key = deps.registry.forPurpose(input.keyId, 'mac', 'verify a MAC');
  const info = deps.registry.namedVersion(key, input.keyVersion);
  const version = info.version;
  const result = { keyId: input.keyId, keyVersion: version };
  noteKey(ctx, input.keyId, version, key.backend.name);
  if (info.state !== 'enabled') return { ...result, valid: false };
  const expected = await key.backend.mac(input.keyId, version, input.data);
  const valid = expected.byteLength === input.mac.byteLength && timingSafeEqual(expected, input.mac);
  return { ...result, valid };
}
