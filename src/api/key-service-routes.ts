// The data plane's routes: keyward.v1.KeyService on grpc-js. Each handler turns the
// protobuf request into a use-case call and the result back into protobuf; errors go
// through the one mapping in grpc-status.ts. Responses that carry secrets (plaintext,
// data keys) are zeroized right after grpc-js has serialized them.
import { create } from '@bufbuild/protobuf';
import type { handleUnaryCall, ServerUnaryCall, ServiceDefinition, UntypedServiceImplementation } from '@grpc/grpc-js';
import { KeywardError } from '../core/keyward-error.js';
import type { Logger } from '../core/logger.js';
import { decryptBatch, encryptBatch, type ItemResult } from '../service/batch.js';
import type { CallContext } from '../service/call-context.js';
import { decrypt } from '../service/decrypt.js';
import { encrypt, type EncryptOutput } from '../service/encrypt.js';
import { generateDataKey } from '../service/generate-data-key.js';
import { reEncrypt } from '../service/re-encrypt.js';
import type { ServiceDeps } from '../service/service-deps.js';
import {
  DecryptBatchResponseSchema,
  DecryptResponseSchema,
  EncryptBatchResponseSchema,
  EncryptResponseSchema,
  GenerateDataKeyResponseSchema,
  ItemStatusSchema,
  KeyService,
  ReEncryptResponseSchema,
  type DecryptBatchRequest,
  type DecryptBatchResponse,
  type DecryptRequest,
  type DecryptResponse,
  type EncryptBatchRequest,
  type EncryptRequest,
  type GenerateDataKeyRequest,
  type GenerateDataKeyResponse,
  type ReEncryptRequest,
} from '../wire/gen/keyward/v1/key_service_pb.js';
import { grpcServiceDefinition } from '../wire/grpc-definition.js';
import { toWireStatus } from './grpc-status.js';

type Handler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/** Everything a route needs from the call; the peer arrives with authorization. */
function callContext(method: string, _call: ServerUnaryCall<unknown, unknown>): CallContext {
  return { method };
}

function unary<Req, Res>(method: string, log: Logger, handler: Handler<Req, Res>): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    handler(call.request, callContext(method, call)).then(
      (response) => callback(null, response),
      (err: unknown) => {
        const status = toWireStatus(err, log, method);
        callback({ code: status.code, details: status.message, metadata: undefined });
      },
    );
  };
}

function unimplemented(method: string): Handler<unknown, never> {
  return async () => {
    throw new KeywardError('unimplemented', `${method} is not implemented yet`);
  };
}

function encryptResponse(out: EncryptOutput) {
  return create(EncryptResponseSchema, { ciphertext: out.ciphertext, keyId: out.keyId, keyVersion: out.keyVersion });
}

function itemError(err: KeywardError, log: Logger, method: string) {
  const status = toWireStatus(err, log, method);
  return create(ItemStatusSchema, { code: status.code, message: status.message });
}

function batchResults<T, R>(results: ItemResult<T>[], log: Logger, method: string, ok: (value: T) => R) {
  return results.map((r) =>
    r.ok ? { result: { case: 'response' as const, value: ok(r.value) } } : { result: { case: 'error' as const, value: itemError(r.error, log, method) } },
  );
}

/** Zeroizes the secrets a response carries, once grpc-js has serialized it. */
const SECRET_FIELDS: Record<string, (response: never) => void> = {
  decrypt: (r: DecryptResponse) => r.plaintext.fill(0),
  generateDataKey: (r: GenerateDataKeyResponse) => r.plaintextKey.fill(0),
  decryptBatch: (r: DecryptBatchResponse) => {
    for (const item of r.results) if (item.result.case === 'response') item.result.value.plaintext.fill(0);
  },
};

/** grpc-js definition of KeyService whose serializers zeroize secret responses. */
export function keyServiceDefinition(): ServiceDefinition {
  const definition: Record<string, ServiceDefinition[string]> = { ...grpcServiceDefinition(KeyService) };
  for (const [method, wipe] of Object.entries(SECRET_FIELDS)) {
    const entry = definition[method]!;
    const serialize = entry.responseSerialize;
    definition[method] = {
      ...entry,
      responseSerialize: (response: unknown) => {
        const bytes = serialize(response);
        (wipe as (r: unknown) => void)(response);
        return bytes;
      },
    };
  }
  return definition;
}

/** The handlers of KeyService, keyed by method local name. */
export function keyServiceHandlers(deps: ServiceDeps, log: Logger): UntypedServiceImplementation {
  return {
    encrypt: unary('Encrypt', log, async (req: EncryptRequest, ctx) => encryptResponse(await encrypt(deps, req, ctx))),

    decrypt: unary('Decrypt', log, async (req: DecryptRequest, ctx) => {
      const out = await decrypt(deps, req, ctx);
      return create(DecryptResponseSchema, { plaintext: out.plaintext, keyId: out.keyId, keyVersion: out.keyVersion });
    }),

    reEncrypt: unary('ReEncrypt', log, async (req: ReEncryptRequest, ctx) => {
      const out = await reEncrypt(deps, req, ctx);
      return create(ReEncryptResponseSchema, { ciphertext: out.ciphertext, keyId: out.keyId, keyVersion: out.keyVersion });
    }),

    generateDataKey: unary('GenerateDataKey', log, async (req: GenerateDataKeyRequest, ctx) => {
      const out = await generateDataKey(deps, req, ctx);
      // The response takes the key's buffer and zeroizes it after serialization.
      return create(GenerateDataKeyResponseSchema, {
        plaintextKey: out.plaintextKey.expose(),
        wrappedKey: out.wrappedKey,
        keyId: out.keyId,
        keyVersion: out.keyVersion,
      });
    }),

    encryptBatch: unary('EncryptBatch', log, async (req: EncryptBatchRequest, ctx) => {
      const results = await encryptBatch(deps, req.items, ctx);
      return create(EncryptBatchResponseSchema, { results: batchResults(results, log, 'EncryptBatch', encryptResponse) });
    }),

    decryptBatch: unary('DecryptBatch', log, async (req: DecryptBatchRequest, ctx) => {
      const results = await decryptBatch(deps, req.items, ctx);
      return create(DecryptBatchResponseSchema, {
        results: batchResults(results, log, 'DecryptBatch', (out) =>
          create(DecryptResponseSchema, { plaintext: out.plaintext, keyId: out.keyId, keyVersion: out.keyVersion }),
        ),
      });
    }),

    sign: unary('Sign', log, unimplemented('Sign')),
    verify: unary('Verify', log, unimplemented('Verify')),
    computeMac: unary('ComputeMac', log, unimplemented('ComputeMac')),
    verifyMac: unary('VerifyMac', log, unimplemented('VerifyMac')),
    getPublicKey: unary('GetPublicKey', log, unimplemented('GetPublicKey')),
    signJwt: unary('SignJwt', log, unimplemented('SignJwt')),
  };
}
