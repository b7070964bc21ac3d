// The admin plane's routes: keyward.v1.KeyAdminService for connect-node. Errors go
// through the same mapping as the data plane (grpc-status.ts).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, createContextKey, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { status as GrpcStatus } from '@grpc/grpc-js';
import type { CallObserver } from '../core/call-observer.js';
import type { ConnectionCallers } from '../core/caller.js';
import { denialOf, identityOf, runAsCaller, type CallerCall } from './caller-outcome.js';
import type { KeyAlgorithm as Algorithm, KeyPurpose as Purpose, KeyVersionState as State } from '../core/key-types.js';
import type { Logger } from '../core/logger.js';
import type { KeyCatalog } from '../service/key-administration.js';
import type { CallContext, CallFacts } from '../service/call-context.js';
import { describeKey, listKeys, rotateKey, type KeyDescription } from '../service/key-administration.js';
import { combineKeyEscrow, splitKeyEscrow, type EscrowDeps } from '../service/key-escrow.js';
import {
  CombineKeyEscrowResponseSchema,
  DescribeKeyResponseSchema,
  EscrowCombineResult,
  KeyAdminService,
  KeyAlgorithm,
  KeyPurpose,
  KeySchema,
  KeyVersionSchema,
  KeyVersionState,
  ListKeysResponseSchema,
  RotateKeyResponseSchema,
  SplitKeyEscrowResponseSchema,
} from '../wire/gen/keyward/v1/key_admin_service_pb.js';
import { toWireStatus } from './grpc-status.js';

const PURPOSE: Record<Purpose, KeyPurpose> = {
  encrypt: KeyPurpose.ENCRYPT,
  sign: KeyPurpose.SIGN,
  mac: KeyPurpose.MAC,
};
const ALGORITHM: Record<Algorithm, KeyAlgorithm> = {
  'aes-256-gcm': KeyAlgorithm.AES_256_GCM,
  ed25519: KeyAlgorithm.ED25519,
  'ecdsa-p256': KeyAlgorithm.ECDSA_P256,
  'rsa-4096': KeyAlgorithm.RSA_4096,
  'hmac-sha256': KeyAlgorithm.HMAC_SHA256,
};
const STATE: Record<State, KeyVersionState> = {
  enabled: KeyVersionState.ENABLED,
  disabled: KeyVersionState.DISABLED,
  'destroy-scheduled': KeyVersionState.DESTROY_SCHEDULED,
  destroyed: KeyVersionState.DESTROYED,
};

function toKey(d: KeyDescription) {
  return create(KeySchema, {
    keyId: d.keyId,
    purpose: PURPOSE[d.purpose],
    algorithm: ALGORITHM[d.algorithm],
    backend: d.backend,
    primaryVersion: d.primaryVersion,
    versions: d.versions.map((v) =>
      create(KeyVersionSchema, {
        version: v.version,
        state: STATE[v.state],
        createTime: timestampFromDate(v.createdAt),
        ...(v.destroyAt ? { destroyTime: timestampFromDate(v.destroyAt) } : {}),
      }),
    ),
  });
}

/** The callers of the connection a request came on (set by the admin plane server). */
export const connectionCallersKey = createContextKey<ConnectionCallers | undefined>(undefined, { description: 'keyward connection callers' });

interface AdminEnv {
  readonly log: Logger;
  readonly observer: CallObserver;
}

/**
 * Runs a route inside the call's observation (span, audit record), turning every
 * failure into a ConnectError with a safe message from the one mapping.
 */
async function guarded<T>(
  method: string,
  env: AdminEnv,
  handler: HandlerContext,
  run: (ctx: CallContext, facts: CallFacts) => Promise<T> | T,
): Promise<T> {
  const observed = env.observer.start(method, (key) => handler.requestHeader.get(key) ?? undefined);
  const facts: CallFacts = {};
  const as: CallerCall = { caller: undefined, callers: handler.values.get(connectionCallersKey) };
  try {
    // The admin socket takes no bearer token: its callers are local administrators.
    const result = await observed.run(() => runAsCaller(as, undefined, async (caller) => run({ method, facts, caller }, facts)));
    observed.end({ code: GrpcStatus.OK, codeName: 'OK', ...facts, ...identityOf(as) });
    return result;
  } catch (err) {
    const status = toWireStatus(err, env.log, method);
    observed.end({ code: status.code, codeName: GrpcStatus[status.code], ...facts, ...identityOf(as), ...denialOf(err) });
    throw new ConnectError(status.message, status.code as number as Code);
  }
}

const COMBINE_RESULT = { imported: EscrowCombineResult.IMPORTED, verified: EscrowCombineResult.VERIFIED } as const;

export function keyAdminRoutes(registry: KeyCatalog, escrow: EscrowDeps, env: AdminEnv): (router: ConnectRouter) => void {
  return (router) =>
    router.service(KeyAdminService, {
      listKeys: (_req, handler) =>
        guarded('ListKeys', env, handler, (ctx) => create(ListKeysResponseSchema, { keys: listKeys(registry, ctx).map(toKey) })),
      describeKey: (req, handler) =>
        guarded('DescribeKey', env, handler, (ctx) => create(DescribeKeyResponseSchema, { key: toKey(describeKey(registry, req.keyId, ctx)) })),
      rotateKey: (req, handler) =>
        // The key id is noted by the use case once it is checked (authorizeKey).
        guarded('RotateKey', env, handler, async (ctx, facts) => {
          const rotated = await rotateKey(registry, req.keyId, ctx);
          facts.keyVersion = rotated.primaryVersion;
          facts.backend = rotated.backend;
          return create(RotateKeyResponseSchema, { key: toKey(rotated) });
        }),
      splitKeyEscrow: (req, handler) =>
        guarded('SplitKeyEscrow', env, handler, async (ctx) => {
          const split = await splitKeyEscrow(escrow, { keyId: req.keyId, version: req.version, shares: req.shares, threshold: req.threshold }, ctx);
          return create(SplitKeyEscrowResponseSchema, { ...split, shares: [...split.shares] });
        }),
      combineKeyEscrow: (req, handler) =>
        guarded('CombineKeyEscrow', env, handler, async (ctx) => {
          const combined = await combineKeyEscrow(escrow, { shares: req.shares, verifyOnly: req.verifyOnly }, ctx);
          return create(CombineKeyEscrowResponseSchema, { ...combined, result: COMBINE_RESULT[combined.result] });
        }),
    });
}
