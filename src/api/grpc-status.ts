// The one mapping from KeywardError codes to gRPC status codes, for both planes
// (Connect's codes are gRPC's numbers). The cause of an error is logged here and never
// sent: callers get the code and the error's own message, or "internal error".
import { status as GrpcStatus } from '@grpc/grpc-js';
import { toKeywardError, type KeywardErrorCode } from '../core/keyward-error.js';
import type { Logger } from '../core/logger.js';

const GRPC_CODE: Readonly<Record<KeywardErrorCode, GrpcStatus>> = {
  'invalid-argument': GrpcStatus.INVALID_ARGUMENT,
  'decryption-failed': GrpcStatus.INVALID_ARGUMENT,
  'not-found': GrpcStatus.NOT_FOUND,
  'failed-precondition': GrpcStatus.FAILED_PRECONDITION,
  'permission-denied': GrpcStatus.PERMISSION_DENIED,
  unauthenticated: GrpcStatus.UNAUTHENTICATED,
  'resource-exhausted': GrpcStatus.RESOURCE_EXHAUSTED,
  unavailable: GrpcStatus.UNAVAILABLE,
  'deadline-exceeded': GrpcStatus.DEADLINE_EXCEEDED,
  unimplemented: GrpcStatus.UNIMPLEMENTED,
  'already-exists': GrpcStatus.ALREADY_EXISTS,
  internal: GrpcStatus.INTERNAL,
};

export interface WireStatus {
  readonly code: GrpcStatus;
  readonly message: string;
}

/** Maps any thrown value to the status a caller sees, logging what the caller must not. */
export function toWireStatus(err: unknown, log: Logger, method: string): WireStatus {
  const error = toKeywardError(err);
  const code = GRPC_CODE[error.code];
  if (error.code === 'internal') {
    log.error({ method, err: error.cause ?? error }, 'internal error');
  } else if (error.cause !== undefined) {
    log.debug({ method, code: error.code, cause: String(error.cause) }, 'call failed');
  }
  return { code, message: error.code === 'internal' ? 'internal error' : error.message };
}
