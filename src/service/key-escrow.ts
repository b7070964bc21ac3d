// Key escrow and recovery (policy §7) as admin-plane use cases: split a key version into
// shares for the share holders, and combine shares to put a lost version back — or, with
// verifyOnly, to check quarterly that the shares still recover the key. Each success is a
// lifecycle event (span, chained audit record, log line) naming the shares by SHA-256
// only. Dual approval (policy §6) is procedural around these calls: docs/escrow.md.
import { createHash, randomBytes } from 'node:crypto';
import type { EscrowImportResult } from '../core/key-backend.js';
import { KeywardError } from '../core/keyward-error.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import type { LifecycleEvents } from '../audit/lifecycle-events.js';
import { decodeEscrowShare, ESCROW_ID_BYTES, ESCROW_MAX_SHARES, ESCROW_MIN_SHARES } from '../crypto/escrow-share-format.js';
import { combineAndOpen, escrowOfShares, sealAndSplit } from '../crypto/key-escrow.js';
import type { KeyRegistry } from '../keys/key-registry.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { requireKeyId } from './request-checks.js';

export interface EscrowDeps {
  readonly registry: Pick<KeyRegistry, 'get' | 'namedVersion' | 'exportForEscrow' | 'importFromEscrow'>;
  /** The escrow master key (escrow.master_key_file); undefined when escrow is not configured. */
  readonly masterKey: SecretBytes | undefined;
  readonly events: Pick<LifecycleEvents, 'record'>;
}

export interface SplitRequest {
  readonly keyId: string;
  /** 0: the primary version. */
  readonly version: number;
  readonly shares: number;
  readonly threshold: number;
}

export interface SplitResult {
  readonly escrowId: string;
  readonly keyId: string;
  readonly version: number;
  readonly threshold: number;
  readonly total: number;
  readonly shares: ReadonlyArray<{ readonly index: number; readonly share: Buffer; readonly sha256: string }>;
}

export interface CombineResult {
  readonly escrowId: string;
  readonly keyId: string;
  readonly version: number;
  readonly result: EscrowImportResult;
}

const sha256 = (bytes: Uint8Array) => createHash('sha256').update(bytes).digest('hex');

function checkSplitBounds(shares: number, threshold: number): void {
  if (shares < ESCROW_MIN_SHARES || shares > ESCROW_MAX_SHARES) {
    throw KeywardError.invalidArgument(`shares must be ${ESCROW_MIN_SHARES}-${ESCROW_MAX_SHARES} but is ${shares}`);
  }
  if (threshold < ESCROW_MIN_SHARES || threshold > shares) {
    throw KeywardError.invalidArgument(`threshold must be ${ESCROW_MIN_SHARES}-${shares} (at most shares) but is ${threshold}`);
  }
}

function masterKeyOf(deps: EscrowDeps): SecretBytes {
  if (deps.masterKey === undefined) {
    throw new KeywardError('failed-precondition', 'key escrow is not configured on this daemon (set escrow.master_key_file)');
  }
  return deps.masterKey;
}

export async function splitKeyEscrow(deps: EscrowDeps, req: SplitRequest, ctx: CallContext): Promise<SplitResult> {
  const keyId = requireKeyId(req.keyId);
  checkSplitBounds(req.shares, req.threshold);
  authorizeKey(ctx, 'escrow', keyId);
  const masterKey = masterKeyOf(deps);
  const key = deps.registry.get(keyId);
  const version = deps.registry.namedVersion(key, req.version).version;
  noteKey(ctx, keyId, version, key.backend.name);
  const header = {
    escrowId: randomBytes(ESCROW_ID_BYTES).toString('hex'),
    keyId,
    keyVersion: version,
    algorithm: key.spec.algorithm,
    purpose: key.spec.purpose,
    threshold: req.threshold,
    total: req.shares,
  };
  const material = await deps.registry.exportForEscrow(keyId, version);
  let shares: Buffer[];
  try {
    shares = await sealAndSplit(material, masterKey, header);
  } finally {
    material.dispose();
  }
  const fingerprints = shares.map(sha256);
  deps.events.record('escrow.split', {
    key_id: keyId,
    key_version: version,
    key_type: header.algorithm,
    backend: key.backend.name,
    escrow_id: header.escrowId,
    shares: header.total,
    threshold: header.threshold,
    share_fingerprints: fingerprints.join(','),
    actor: ctx.caller.identity.subject,
  });
  return {
    escrowId: header.escrowId,
    keyId,
    version,
    threshold: header.threshold,
    total: header.total,
    shares: shares.map((share, i) => ({ index: i + 1, share, sha256: fingerprints[i]! })),
  };
}

export async function combineKeyEscrow(deps: EscrowDeps, req: { readonly shares: readonly Uint8Array[]; readonly verifyOnly: boolean }, ctx: CallContext): Promise<CombineResult> {
  if (req.shares.length > ESCROW_MAX_SHARES) throw KeywardError.invalidArgument(`at most ${ESCROW_MAX_SHARES} shares but got ${req.shares.length}`);
  const decoded = req.shares.map((bytes, i) => decodeEscrowShare(bytes, `shares[${i}]`));
  const escrow = escrowOfShares(decoded);
  const { keyId, keyVersion: version } = escrow;
  authorizeKey(ctx, 'escrow', keyId);
  const masterKey = masterKeyOf(deps);
  const key = deps.registry.get(keyId);
  if (key.spec.algorithm !== escrow.algorithm || key.spec.purpose !== escrow.purpose) {
    throw new KeywardError('failed-precondition', `escrow ${escrow.escrowId} holds a ${escrow.purpose}/${escrow.algorithm} key; key "${keyId}" is ${key.spec.purpose}/${key.spec.algorithm}`);
  }
  noteKey(ctx, keyId, version, key.backend.name);
  const material = await combineAndOpen(escrow, decoded, masterKey);
  let result: EscrowImportResult;
  try {
    ({ result } = await deps.registry.importFromEscrow(keyId, version, material, req.verifyOnly));
  } finally {
    material.dispose();
  }
  deps.events.record('escrow.combined', {
    key_id: keyId,
    key_version: version,
    backend: key.backend.name,
    escrow_id: escrow.escrowId,
    shares_used: decoded.length,
    result,
    share_fingerprints: req.shares.map(sha256).join(','),
    actor: ctx.caller.identity.subject,
  });
  return { escrowId: escrow.escrowId, keyId, version, result };
}
