// The benchmark's reference service, shared by the echo server child and the load
// generator: one unary method whose request and response are raw bytes, with identity
// serializers on both sides, so a call costs grpc-js and nothing else.
import type { ServiceDefinition } from '@grpc/grpc-js';

export const ECHO_METHOD_PATH = '/keyward.bench.Echo/Echo';

export const identity = (bytes: Buffer): Buffer => bytes;

/** One unary method, bytes in and bytes out. */
export const echoServiceDefinition: ServiceDefinition = {
  echo: {
    path: ECHO_METHOD_PATH,
    requestStream: false,
    responseStream: false,
    requestSerialize: identity,
    requestDeserialize: identity,
    responseSerialize: identity,
    responseDeserialize: identity,
    originalName: 'Echo',
  },
};
