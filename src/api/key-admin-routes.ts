// The admin plane's routes: keyward.v1.KeyAdminService for connect-node. Errors go
// through the same mapping as the data plane (grpc-status.ts).
import { create } from '@bufbuild/protobuf';
import { timestampFromDate } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import type { KeyAlgorithm as Algorithm, KeyPurpose as Purpose, KeyVersionState as State } from '../core/key-types.js';
import type { Logger } from '../core/logger.js';
import type { KeyRegistry } from '../keys/key-registry.js';
import type { CallContext } from '../service/call-context.js';
import { describeKey, listKeys, rotateKey, type KeyDescription } from '../service/key-administration.js';
import {
  DescribeKeyResponseSchema,
  KeyAdminService,
  KeyAlgorithm,
  KeyPurpose,
  KeySchema,
  KeyVersionSchema,
  KeyVersionState,
  ListKeysResponseSchema,
  RotateKeyResponseSchema,
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

/** Runs a route, turning every failure into a ConnectError with a safe message. */
async function guarded<T>(method: string, log: Logger, run: (ctx: CallContext) => Promise<T> | T): Promise<T> {
  try {
    return await run({ method });
  } catch (err) {
    const status = toWireStatus(err, log, method);
    throw new ConnectError(status.message, status.code as number as Code);
  }
}

export function keyAdminRoutes(registry: KeyRegistry, log: Logger): (router: ConnectRouter) => void {
  return (router) =>
    router.service(KeyAdminService, {
      listKeys: () =>
        guarded('ListKeys', log, (ctx) => create(ListKeysResponseSchema, { keys: listKeys(registry, ctx).map(toKey) })),
      describeKey: (req) =>
        guarded('DescribeKey', log, (ctx) =>
          create(DescribeKeyResponseSchema, { key: toKey(describeKey(registry, req.keyId, ctx)) }),
        ),
      rotateKey: (req) =>
        guarded('RotateKey', log, async (ctx) =>
          create(RotateKeyResponseSchema, { key: toKey(await rotateKey(registry, req.keyId, ctx)) }),
        ),
    });
}
