// The data plane's routes: keyward.v1.KeyService on grpc-js. Each handler turns the
// protobuf request into a use-case call and the result back into protobuf; errors go
// through the one mapping in grpc-status.ts. Responses that carry secrets (plaintext,
// data keys) are zeroized right after grpc-js has serialized them.
import { create } from '@bufbuild/protobuf';
import { status as GrpcStatus, type handleUnaryCall, type ServiceDefinition, type UntypedServiceImplementation } from '@grpc/grpc-js';
import type { CallObserver } from '../core/call-observer.js';
import type { SignatureScheme } from '../core/key-backend.js';
import type { KeywardError } from '../core/keyward-error.js';
import type { Logger } from '../core/logger.js';
import { decryptBatch, encryptBatch, type ItemResult } from '../service/batch.js';
import type { CallContext, CallFacts } from '../service/call-context.js';
import { decrypt } from '../service/decrypt.js';
import { encrypt, type EncryptOutput } from '../service/encrypt.js';
import { generateDataKey } from '../service/generate-data-key.js';
import { computeMac, verifyMac } from '../service/mac.js';
import { getPublicKey } from '../service/public-key.js';
import { reEncrypt } from '../service/re-encrypt.js';
import { sign, type SignatureEncoding as Encoding } from '../service/sign.js';
import { signJwt } from '../service/sign-jwt.js';
import { verify } from '../service/verify.js';
import type { ServiceDeps } from '../service/service-deps.js';
import {
  ComputeMacResponseSchema,
  DecryptBatchResponseSchema,
  DecryptResponseSchema,
  EncryptBatchResponseSchema,
  EncryptResponseSchema,
  GenerateDataKeyResponseSchema,
  ItemStatusSchema,
  KeyService,
  GetPublicKeyResponseSchema,
  ReEncryptResponseSchema,
  SignatureAlgorithm,
  SignatureEncoding,
  SignJwtResponseSchema,
  SignResponseSchema,
  VerifyMacResponseSchema,
  VerifyResponseSchema,
  type ComputeMacRequest,
  type DecryptBatchRequest,
  type DecryptBatchResponse,
  type DecryptRequest,
  type DecryptResponse,
  type EncryptBatchRequest,
  type EncryptRequest,
  type GenerateDataKeyRequest,
  type GenerateDataKeyResponse,
  type GetPublicKeyRequest,
  type ReEncryptRequest,
  type SignJwtRequest,
  type SignRequest,
  type VerifyMacRequest,
  type VerifyRequest,
} from '../wire/gen/keyward/v1/key_service_pb.js';
import { grpcServiceDefinition } from '../wire/grpc-definition.js';
import { toWireStatus } from './grpc-status.js';
import { denialOf, identityOf, runAsCaller, type CallerCall } from './caller-outcome.js';
import { callersOfCall } from './peer-credentials.js';

type Handler<Req, Res> = (request: Req, ctx: CallContext) => Promise<Res>;

/** What the routes share: the log for error causes and the observer of every call. */
interface RouteEnv {
  readonly log: Logger;
  readonly observer: CallObserver;
}

/**
 * One unary route: identifies the caller (its connection's peer, and a bearer token in
 * mesh sidecar mode), runs the use case inside the call's observation (its audit span),
 * re-checks the peer process before the use case runs and before its result or error
 * leaves, maps errors in the one place, and reports the outcome with what the use case
 * noted.
 */
function unary<Req, Res>(method: string, env: RouteEnv, handler: Handler<Req, Res>, wipe?: (response: Res) => void): handleUnaryCall<Req, Res> {
  return (call, callback) => {
    const metadata = (key: string) => {
      const value = call.metadata.get(key)[0];
      return typeof value === 'string' ? value : undefined;
    };
    const observed = env.observer.start(method, metadata);
    const facts: CallFacts = {};
    const as: CallerCall = { caller: undefined, callers: callersOfCall(call) };
    const run = () => runAsCaller(as, metadata('authorization'), (caller) => handler(call.request, { method, facts, caller }), wipe);
    observed.run(run).then(
      (response) => {
        // The response first, then its record: the caller does not wait for the audit.
        callback(null, response);
        observed.end({ code: GrpcStatus.OK, codeName: 'OK', ...facts, ...identityOf(as) });
        // The serializer wipes secrets it has written out; a call cancelled (or past its
        // deadline) is never serialized, so wipe it here then.
        if (wipe !== undefined) {
          if (call.cancelled) wipe(response);
          else call.once('cancelled', () => wipe(response));
        }
      },
      (err: unknown) => {
        const status = toWireStatus(err, env.log, method);
        callback({ code: status.code, details: status.message, metadata: undefined });
        observed.end({ code: status.code, codeName: GrpcStatus[status.code], ...facts, ...identityOf(as), ...denialOf(err) });
      },
    );
  };
}

const SCHEME: Record<SignatureAlgorithm, SignatureScheme | undefined> = {
  [SignatureAlgorithm.UNSPECIFIED]: undefined,
  [SignatureAlgorithm.ED25519]: 'ed25519',
  [SignatureAlgorithm.ECDSA_P256_SHA256]: 'ecdsa-p256-sha256',
  [SignatureAlgorithm.RSA_PKCS1_SHA256]: 'rsa-pkcs1-sha256',
  [SignatureAlgorithm.RSA_PSS_SHA256]: 'rsa-pss-sha256',
};

const ENCODING: Record<SignatureEncoding, Encoding | undefined> = {
  [SignatureEncoding.UNSPECIFIED]: undefined,
  [SignatureEncoding.DER]: 'der',
  [SignatureEncoding.P1363]: 'p1363',
};

/** The message-or-digest oneof and the signature options, as the use cases take them. */
function signatureRequest(req: SignRequest | VerifyRequest) {
  const scheme = SCHEME[req.algorithm];
  const encoding = ENCODING[req.encoding];
  return {
    keyId: req.keyId,
    ...(req.input.case === 'message' ? { message: req.input.value } : {}),
    ...(req.input.case === 'digest' ? { digest: req.input.value } : {}),
    ...(scheme ? { scheme } : {}),
    ...(encoding ? { encoding } : {}),
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

/**
 * Zeroizes the secrets a response carries: after grpc-js has serialized it, or when the
 * call is cancelled before it could be (see unary()).
 */
const SECRET_FIELDS = {
  decrypt: (r: DecryptResponse) => void r.plaintext.fill(0),
  generateDataKey: (r: GenerateDataKeyResponse) => void r.plaintextKey.fill(0),
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
export function keyServiceHandlers(deps: ServiceDeps, log: Logger, observer: CallObserver): UntypedServiceImplementation {
  const env: RouteEnv = { log, observer };
  return {
    encrypt: unary('Encrypt', env, async (req: EncryptRequest, ctx) => encryptResponse(await encrypt(deps, req, ctx))),

    decrypt: unary(
      'Decrypt',
      env,
      async (req: DecryptRequest, ctx) => {
        const out = await decrypt(deps, req, ctx);
        return create(DecryptResponseSchema, { plaintext: out.plaintext, keyId: out.keyId, keyVersion: out.keyVersion });
      },
      SECRET_FIELDS.decrypt,
    ),

    reEncrypt: unary('ReEncrypt', env, async (req: ReEncryptRequest, ctx) => {
      const out = await reEncrypt(deps, req, ctx);
      return create(ReEncryptResponseSchema, { ciphertext: out.ciphertext, keyId: out.keyId, keyVersion: out.keyVersion });
    }),

    generateDataKey: unary(
      'GenerateDataKey',
      env,
      async (req: GenerateDataKeyRequest, ctx) => {
      const out = await generateDataKey(deps, req, ctx);
      // The response takes the key's buffer and zeroizes it after serialization.
      return create(GenerateDataKeyResponseSchema, {
        plaintextKey: out.plaintextKey.expose(),
        wrappedKey: out.wrappedKey,
        keyId: out.keyId,
        keyVersion: out.keyVersion,
      });
      },
      SECRET_FIELDS.generateDataKey,
    ),

    encryptBatch: unary('EncryptBatch', env, async (req: EncryptBatchRequest, ctx) => {
      const results = await encryptBatch(deps, req.items, ctx);
      return create(EncryptBatchResponseSchema, { results: batchResults(results, log, 'EncryptBatch', encryptResponse) });
    }),

    decryptBatch: unary(
      'DecryptBatch',
      env,
      async (req: DecryptBatchRequest, ctx) => {
      const results = await decryptBatch(deps, req.items, ctx);
      return create(DecryptBatchResponseSchema, {
        results: batchResults(results, log, 'DecryptBatch', (out) =>
          create(DecryptResponseSchema, { plaintext: out.plaintext, keyId: out.keyId, keyVersion: out.keyVersion }),
        ),
      });
      },
      SECRET_FIELDS.decryptBatch,
    ),

    sign: unary('Sign', env, async (req: SignRequest, ctx) => {
      const out = await sign(deps, signatureRequest(req), ctx);
      return create(SignResponseSchema, { signature: out.signature, keyId: out.keyId, keyVersion: out.keyVersion });
    }),

    verify: unary('Verify', env, async (req: VerifyRequest, ctx) => {
      const out = await verify(deps, { ...signatureRequest(req), signature: req.signature, keyVersion: req.keyVersion }, ctx);
      return create(VerifyResponseSchema, out);
    }),

    computeMac: unary('ComputeMac', env, async (req: ComputeMacRequest, ctx) =>
      create(ComputeMacResponseSchema, await computeMac(deps, req, ctx)),
    ),

    verifyMac: unary('VerifyMac', env, async (req: VerifyMacRequest, ctx) => create(VerifyMacResponseSchema, await verifyMac(deps, req, ctx))),

    getPublicKey: unary('GetPublicKey', env, async (req: GetPublicKeyRequest, ctx) => {
      const out = await getPublicKey(deps, req, ctx);
      return create(GetPublicKeyResponseSchema, {
        keyId: out.keyId,
        keyVersion: out.keyVersion,
        publicKeyPem: out.pem,
        publicKeyJwk: JSON.stringify(out.jwk),
        jwks: JSON.stringify(out.jwks),
      });
    }),

    signJwt: unary('SignJwt', env, async (req: SignJwtRequest, ctx) => create(SignJwtResponseSchema, await signJwt(deps, req, ctx))),
  };
}
