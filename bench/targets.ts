// What the load generator calls: the keyward SDK client (as applications use it) for
// Encrypt, Decrypt and EncryptBatch, and an equivalent promise client for the bare echo
// service. Both sides get the same channel setup — N grpc-js clients, each on its own
// HTTP/2 connection, workers assigned round-robin — and the same per-call deadline, so
// the throughput ratios compare the servers and not the clients.
import { create } from '@bufbuild/protobuf';
import { Client, credentials, Metadata, type ChannelOptions, type ServiceError } from '@grpc/grpc-js';
import { randomBytes } from 'node:crypto';
import { createKeyServiceClient, type KeyServiceClient } from '../src/client/keyward-client.js';
import {
  DecryptRequestSchema,
  EncryptBatchRequestSchema,
  EncryptRequestSchema,
} from '../src/wire/gen/keyward/v1/key_service_pb.js';
import { ECHO_METHOD_PATH, identity } from './echo-service.js';
import type { CallFn } from './load-runner.js';

export const PAYLOAD_BYTES = 1024;
export const BENCH_KEY_ID = 'alpha';
/** Every call carries a deadline, so no call can hang a run. */
export const CALL_TIMEOUT_MS = 10_000;

/**
 * Channel options shared by every client of the run. Without a local subchannel pool,
 * grpc-js clients with the same target and options share one subchannel — one HTTP/2
 * connection — however many clients are made.
 */
const CHANNEL_OPTIONS: ChannelOptions = { 'grpc.use_local_subchannel_pool': 1 };

export interface Target {
  readonly call: CallFn;
  /** Units of work per call: 1, or the item count of a batch. */
  readonly itemsPerCall: number;
  close(): void;
}

/** The same client shape as the SDK's, for the bytes-in, bytes-out echo method. */
function createEchoClient(socketPath: string): { echo(payload: Buffer): Promise<Buffer>; close(): void } {
  // The SDK's channel options, so both clients open identical channels.
  const client = new Client(`unix:${socketPath}`, credentials.createInsecure(), {
    'grpc.max_receive_message_length': 256 * 1024 * 1024,
    'grpc.max_send_message_length': 256 * 1024 * 1024,
    ...CHANNEL_OPTIONS,
  });
  return {
    echo: (payload) =>
      new Promise((resolve, reject) => {
        client.makeUnaryRequest(
          ECHO_METHOD_PATH,
          identity,
          identity,
          payload,
          new Metadata(),
          { deadline: Date.now() + CALL_TIMEOUT_MS },
          (err: ServiceError | null, response?: Buffer) => (err ? reject(err) : resolve(response!)),
        );
      }),
    close: () => client.close(),
  };
}

function pick<T>(clients: readonly T[], worker: number): T {
  return clients[worker % clients.length]!;
}

export function payload(): Buffer {
  return randomBytes(PAYLOAD_BYTES);
}

export function echoTarget(socketPath: string, channels: number, data: Buffer): Target {
  const clients = Array.from({ length: channels }, () => createEchoClient(socketPath));
  return {
    itemsPerCall: 1,
    call: async (worker) => {
      const response = await pick(clients, worker).echo(data);
      if (response.byteLength !== data.byteLength) throw new Error(`echo returned ${response.byteLength} bytes`);
    },
    close: () => clients.forEach((c) => c.close()),
  };
}

function keywardClients(socketPath: string, channels: number): KeyServiceClient[] {
  return Array.from({ length: channels }, () => createKeyServiceClient(socketPath, CHANNEL_OPTIONS));
}

const callOptions = { timeoutMs: CALL_TIMEOUT_MS };

export function encryptTarget(socketPath: string, channels: number, data: Buffer): Target {
  const clients = keywardClients(socketPath, channels);
  // Built once: the SDK passes an already-built message through create() unchanged.
  const request = create(EncryptRequestSchema, { keyId: BENCH_KEY_ID, plaintext: data, associatedData: new Uint8Array(0) });
  return {
    itemsPerCall: 1,
    call: async (worker) => {
      const response = await pick(clients, worker).encrypt(request, callOptions);
      if (response.ciphertext.byteLength <= data.byteLength) throw new Error('ciphertext shorter than the plaintext');
    },
    close: () => clients.forEach((c) => c.close()),
  };
}

/** Decrypt of one ciphertext made by an Encrypt call before the run (DEK cache hits). */
export async function decryptTarget(socketPath: string, channels: number, data: Buffer): Promise<Target> {
  const clients = keywardClients(socketPath, channels);
  const sealed = await clients[0]!.encrypt({ keyId: BENCH_KEY_ID, plaintext: data, associatedData: new Uint8Array(0) }, callOptions);
  const request = create(DecryptRequestSchema, { ciphertext: sealed.ciphertext, associatedData: new Uint8Array(0) });
  return {
    itemsPerCall: 1,
    call: async (worker) => {
      const response = await pick(clients, worker).decrypt(request, callOptions);
      if (response.plaintext.byteLength !== data.byteLength) throw new Error('plaintext of the wrong length');
    },
    close: () => clients.forEach((c) => c.close()),
  };
}

export function encryptBatchTarget(socketPath: string, channels: number, data: Buffer, items: number): Target {
  const clients = keywardClients(socketPath, channels);
  const request = create(EncryptBatchRequestSchema, {
    items: Array.from({ length: items }, () => ({ keyId: BENCH_KEY_ID, plaintext: data, associatedData: new Uint8Array(0) })),
  });
  return {
    itemsPerCall: items,
    call: async (worker) => {
      const response = await pick(clients, worker).encryptBatch(request, callOptions);
      if (response.results.length !== items) throw new Error(`batch returned ${response.results.length} results`);
      const failed = response.results.find((r) => r.result.case !== 'response');
      if (failed !== undefined) {
        const status = failed.result.case === 'error' ? failed.result.value.message : 'no result';
        throw new Error(`batch item failed: ${status}`);
      }
    },
    close: () => clients.forEach((c) => c.close()),
  };
}
