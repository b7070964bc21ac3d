// Key escrow and recovery (policy §7) as use cases: on the admin plane, split a key version
// into shares for the share holders, and combine shares to put a lost version back — or,
// with verifyOnly, to check quarterly that the shares still recover the key; offline, with
// no daemon running, combine shares into the keystore of a new host before its first
// start. Online and offline combine with the same crypto and checks. Each success is a
// lifecycle event (span, chained audit record, log line) naming the shares by SHA-256
// only. Dual approval (policy §6) is procedural around these calls: docs/escrow.md.
import { createHash, randomBytes } from 'node:crypto';
import type { EscrowImportResult } from '../core/key-backend.js';
import { KeywardError } from '../core/keyward-error.js';
import type { KeySpec } from '../core/key-types.js';
import type { SecretBytes } from '../core/secret-bytes.js';
import type { LifecycleEvents } from '../audit/lifecycle-events.js';
import { decodeEscrowShare, ESCROW_ID_BYTES, ESCROW_MAX_SHARES, ESCROW_MIN_SHARES } from '../crypto/escrow-share-format.js';
import { combineAndOpen, escrowOfShares, sealAndSplit } from '../crypto/key-escrow.js';
import type { KeyRegistry } from '../keys/key-registry.js';
import { authorizeKey } from './authorize-key.js';
import { noteKey, type CallContext } from './call-context.js';
import { requireKeyId } from './request-checks.js';

/**
 * The keys combined shares go into: the daemon's registry online; offline, the declared
 * keys (src/keys/offline-escrow-keys.ts). `get` throws when the escrow's key is unknown.
 */
export interface EscrowKeys {
  get(keyId: string): { readonly spec: KeySpec; readonly backend: { readonly name: string } };
  importFromEscrow(keyId: string, version: number, material: SecretBytes, verifyOnly: boolean): Promise<{ readonly result: EscrowImportResult }>;
}

interface EscrowParts {
  /** The escrow master key (escrow.master_key_file); undefined when escrow is not configured. */
  readonly masterKey: SecretBytes | undefined;
  /** Escrow events must reach the audit log before the operation counts as done (policy §7). */
  readonly events: Pick<LifecycleEvents, 'assertRecordable' | 'recordDurably'>;
}

export interface EscrowDeps extends EscrowParts {
  readonly registry: Pick<KeyRegistry, 'get' | 'namedVersion' | 'exportForEscrow'> & EscrowKeys;
}

/** What a combine needs, online (from EscrowDeps) and offline. */
export interface CombineDeps extends EscrowParts {
  readonly keys: EscrowKeys;
}

/** Who combines, and what the combine asks and notes on the way. */
interface Combiner {
  /** The `mode` of the escrow.combined record. */
  readonly mode: 'online' | 'offline';
  /** Its `actor`. */
  readonly actor: string;
  /** Checked once the escrow's key is known, before it is looked up. */
  readonly authorize: (keyId: string) => void;
  readonly noteKey: (keyId: string, version: number, backend: string) => void;
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

export interface CombineRequest {
  readonly shares: readonly Uint8Array[];
  readonly verifyOnly: boolean;
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

function masterKeyOf(deps: EscrowParts): SecretBytes {
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
  const named = deps.registry.namedVersion(key, req.version);
  const version = named.version;
  noteKey(ctx, keyId, version, key.backend.name);
  // A disabled version (e.g. compromised) or one awaiting destruction must not gain a copy
  // that a recovery would later bring back enabled.
  if (named.state !== 'enabled') {
    throw new KeywardError('failed-precondition', `version ${version} of key "${keyId}" is ${named.state}; only an enabled version is escrowed`);
  }
  // Policy §7: the event is logged in full, or nothing is exported.
  deps.events.assertRecordable();
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
  // No share leaves before its record is written.
  await deps.events.recordDurably('escrow.split', {
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

/** CombineKeyEscrow: the caller's `escrow` grant on the key decides; the primary version never changes. */
export async function combineKeyEscrow(deps: EscrowDeps, req: CombineRequest, ctx: CallContext): Promise<CombineResult> {
  // A caller granted escrow on no key learns nothing from the shares it sends.
  ctx.caller.authorizeAny('escrow');
  return combine({ keys: deps.registry, masterKey: deps.masterKey, events: deps.events }, req, {
    mode: 'online',
    actor: ctx.caller.identity.subject,
    authorize: (keyId) => authorizeKey(ctx, 'escrow', keyId),
    noteKey: (keyId, version, backend) => noteKey(ctx, keyId, version, backend),
  });
}

/**
 * Offline recovery (`keyward keys escrow-recover`, no daemon running): no socket caller
 * and no policy check — whoever runs it already holds the keystore and the master key
 * files, which is more than the `escrow` operation grants. `actor` is the OS user.
 */
export function recoverKeyEscrow(deps: CombineDeps, shares: readonly Uint8Array[], actor: string): Promise<CombineResult> {
  return combine(deps, { shares, verifyOnly: false }, { mode: 'offline', actor, authorize: () => undefined, noteKey: () => undefined });
}

async function combine(deps: CombineDeps, req: CombineRequest, by: Combiner): Promise<CombineResult> {
  if (req.shares.length > ESCROW_MAX_SHARES) throw KeywardError.invalidArgument(`at most ${ESCROW_MAX_SHARES} shares but got ${req.shares.length}`);
  const decoded = req.shares.map((bytes, i) => decodeEscrowShare(bytes, `shares[${i}]`));
  const escrow = escrowOfShares(decoded);
  const { keyId, keyVersion: version } = escrow;
  by.authorize(keyId);
  const masterKey = masterKeyOf(deps);
  const key = deps.keys.get(keyId);
  if (key.spec.algorithm !== escrow.algorithm || key.spec.purpose !== escrow.purpose) {
    throw new KeywardError('failed-precondition', `escrow ${escrow.escrowId} holds a ${escrow.purpose}/${escrow.algorithm} key; key "${keyId}" is ${key.spec.purpose}/${key.spec.algorithm}`);
  }
  by.noteKey(keyId, version, key.backend.name);
  deps.events.assertRecordable();
  const material = await combineAndOpen(escrow, decoded, masterKey);
  let result: EscrowImportResult;
  try {
    ({ result } = await deps.keys.importFromEscrow(keyId, version, material, req.verifyOnly));
  } finally {
    material.dispose();
  }
  await deps.events.recordDurably('escrow.combined', {
    key_id: keyId,
    key_version: version,
    backend: key.backend.name,
    escrow_id: escrow.escrowId,
    shares_used: decoded.length,
    result,
    share_fingerprints: req.shares.map(sha256).join(','),
    actor: by.actor,
    mode: by.mode,
  });
  return { escrowId: escrow.escrowId, keyId, version, result };
}
