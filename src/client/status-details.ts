// The status message of a failed call as the server wrote it. The admin plane is served
// by connect-node, which percent-encodes grpc-message with encodeURIComponent; grpc-js
// clients decode it with decodeURI, which leaves the escapes of ; / ? : @ & = + $ , #
// in place — "key_id is not a key id: expected …" arrived as "… key id%3A expected …".
// This undoes exactly those escapes.
import type { ServiceError } from '@grpc/grpc-js';

const LEFT_BY_DECODE_URI = /%(2[346BCF]|3[ABDF]|40)/gi;

export function decodeReservedEscapes(details: string): string {
  return details.replace(LEFT_BY_DECODE_URI, (escape) => String.fromCharCode(Number.parseInt(escape.slice(1), 16)));
}

/** The same error with its details (and the message grpc-js builds from them) decoded. */
export function withDecodedDetails(err: ServiceError): ServiceError {
  const details = decodeReservedEscapes(err.details);
  if (details === err.details) return err;
  err.message = err.message.replace(err.details, details);
  err.details = details;
  return err;
}
