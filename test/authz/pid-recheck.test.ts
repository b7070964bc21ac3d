// SPIRE-style pid re-checking over the real socket: the daemon identifies a connection
// by the process that connected (SO_PEERCRED + /proc at accept) and, after every call
// and before the response leaves, re-checks that this pid still belongs to the same
// process (its start time). A connection handed to another process (fd passing) must
// not keep the identity of a connector that has exited, nor of a pid reused while a
// call runs. Real processes pass real sockets here; a fixture /proc fakes the reuse.
import test, { type ExecutionContext } from 'ava';
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import { status } from '@grpc/grpc-js';
import { fork } from 'node:child_process';
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { copyFileSync, mkdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { connect as http2Connect, type IncomingHttpHeaders } from 'node:http2';
import { Socket } from 'node:net';
import { join } from 'node:path';
import { Duplex } from 'node:stream';
import { createKeyServiceClient } from '../../src/client/keyward-client.js';
import {
  DecryptRequestSchema,
  DecryptResponseSchema,
  EncryptRequestSchema,
  EncryptResponseSchema,
} from '../../src/wire/gen/keyward/v1/key_service_pb.js';
import { rejectsWithCode } from '../support/grpc-assert.js';
import { makeTempDir, startTestDaemon, type TestDaemon } from '../support/test-daemon.js';

const PASSER = join(process.cwd(), 'dist/test/authz/socket-passer-entry.js');
const PLAINTEXT = Buffer.from('PLAINTEXT-pid-recheck-4111-1111-1111-1111');
/** The recheck's denial reason (authorizer.ts), as the audit record carries it. */
const recheckReason = (pid: number) => new RegExp(`\\(pid ${pid}\\) is gone or its pid now belongs to another process`);
const CALL_TIMEOUT_MS = 10_000;
const OWN_SUBCHANNEL = { 'grpc.use_local_subchannel_pool': 1 };

type AuditRecord = Record<string, unknown>;

/** A daemon with its audit log on, disposed of when the test ends. */
async function startAuditedDaemon(t: ExecutionContext, procRoot?: string): Promise<{ d: TestDaemon; auditPath: string }> {
  const dir = makeTempDir();
  const auditPath = join(dir, 'audit.jsonl');
  const d = await startTestDaemon({
    dir,
    overrides: { audit: { log: { path: auditPath, fsync: 'every-record' } } },
    // A fixture /proc fakes pid reuse through the start time; a pidfd would see through it.
    ...(procRoot !== undefined ? { daemonOptions: { procRoot, recheckBy: 'start-time' as const } } : {}),
  });
  t.teardown(() => d.dispose());
  return { d, auditPath };
}

/** The key.operation records, after stopping the daemon (which flushes and closes the log). */
async function operationRecords(d: TestDaemon, auditPath: string): Promise<AuditRecord[]> {
  await d.stop();
  return readFileSync(auditPath, 'utf8')
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as AuditRecord)
    .filter((r) => r['event'] === 'key.operation');
}

/** Counts the connections the daemon accepts on `socketPath` (Node's net.server.socket channel). */
function countAccepts(t: ExecutionContext, socketPath: string): () => number {
  let accepted = 0;
  const onSocket = (message: unknown) => {
    const server = (message as { socket: Socket & { server?: { address(): unknown } } }).socket.server;
    if (server?.address() === socketPath) accepted++;
  };
  subscribe('net.server.socket', onSocket);
  t.teardown(() => void unsubscribe('net.server.socket', onSocket));
  return () => accepted;
}

// ---------------------------------------------------------------------------------------
// Real processes: a child connects, passes its socket to this process, exits (or not).

interface PassedSocket {
  readonly socket: Socket;
  /** The pid the daemon saw connect (the child's). */
  readonly pid: number;
  /** Tells the child to exit and resolves once it is reaped (its /proc entry is gone). */
  exit(): Promise<number | null>;
}

/**
 * Forks the socket passer: it connects to the data socket, waits for the daemon to
 * accept, and sends the connected socket here. Asynchronous throughout — the daemon
 * serves from this process's event loop.
 */
async function passedSocket(t: ExecutionContext, socketPath: string): Promise<PassedSocket> {
  const child = fork(PASSER, [socketPath], { stdio: ['ignore', 'ignore', 'pipe', 'ipc'], execArgv: [] });
  let stderr = '';
  child.stderr!.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  // 'exit' is emitted after libuv has reaped the child: no zombie keeps /proc/<pid>.
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill();
  });
  const socket = await new Promise<Socket>((resolve, reject) => {
    child.once('message', (message, handle) => {
      if (message === 'socket' && handle instanceof Socket) resolve(handle);
      else reject(new Error(`unexpected message from the socket passer: ${String(message)}`));
    });
    void exited.then((code) => reject(new Error(`socket passer exited ${code} before passing its socket: ${stderr}`)));
  });
  return {
    socket,
    pid: child.pid!,
    exit: () => {
      child.send('exit');
      return exited;
    },
  };
}

/**
 * A pass-through in front of the socket that keeps every byte received: http2 then runs
 * over it (Node wraps it in a JSStreamSocket) and the test can search the raw bytes.
 */
class ReceiveTap extends Duplex {
  readonly received: Buffer[] = [];
  readonly #inner: Socket;

  constructor(inner: Socket) {
    super();
    this.#inner = inner;
    inner.on('data', (chunk: Buffer) => {
      this.received.push(chunk);
      if (!this.push(chunk)) inner.pause();
    });
    inner.once('end', () => this.push(null));
    inner.once('error', (err) => this.destroy(err));
    inner.once('close', () => this.destroy());
  }

  override _read(): void {
    this.#inner.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.#inner.write(chunk, callback);
  }

  override _final(callback: (err?: Error | null) => void): void {
    this.#inner.end(callback);
  }

  override _destroy(err: Error | null, callback: (err?: Error | null) => void): void {
    this.#inner.destroy();
    callback(err);
  }
}

interface RawReply {
  readonly grpcStatus: number;
  readonly grpcMessage: string | undefined;
  /** The payloads of the response's DATA frames, concatenated (gRPC length-prefixed messages). */
  readonly data: Buffer;
  /** Every byte the connection received (frame headers, HPACK, DATA). */
  readonly received: Buffer;
}

/** One hand-framed gRPC unary call of KeyService over `socket`, with node:http2. */
async function rawUnary(socket: Socket, method: string, request: Uint8Array): Promise<RawReply> {
  const tap = new ReceiveTap(socket);
  const session = http2Connect('http://localhost', { createConnection: () => tap });
  let timer: NodeJS.Timeout | undefined;
  try {
    const body = Buffer.alloc(5 + request.length);
    body.writeUInt8(0, 0); // not compressed
    body.writeUInt32BE(request.length, 1);
    body.set(request, 5);
    const stream = session.request({
      ':method': 'POST',
      ':path': `/keyward.v1.KeyService/${method}`,
      'content-type': 'application/grpc',
      te: 'trailers',
    });
    let headers: IncomingHttpHeaders = {};
    let trailers: IncomingHttpHeaders = {};
    const data: Buffer[] = [];
    stream.on('response', (h) => (headers = h));
    stream.on('trailers', (h) => (trailers = h));
    stream.on('data', (chunk: Buffer) => data.push(chunk));
    const done = new Promise<void>((resolve, reject) => {
      stream.once('close', resolve);
      stream.once('error', reject);
      session.once('error', reject);
    });
    stream.end(body);
    await Promise.race([
      done,
      new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${method} over the passed socket timed out`)), CALL_TIMEOUT_MS))),
    ]);
    // A trailers-only response (any error) carries the status in its headers.
    const grpcStatus = trailers['grpc-status'] ?? headers['grpc-status'];
    const grpcMessage = trailers['grpc-message'] ?? headers['grpc-message'];
    if (typeof grpcStatus !== 'string') throw new Error(`no grpc-status in ${JSON.stringify({ headers, trailers })}`);
    return {
      grpcStatus: Number(grpcStatus),
      grpcMessage: typeof grpcMessage === 'string' ? decodeURIComponent(grpcMessage) : undefined,
      data: Buffer.concat(data),
      received: Buffer.concat(tap.received),
    };
  } finally {
    clearTimeout(timer);
    session.destroy();
  }
}

/** The one message of a unary response body (5-byte prefix: uncompressed flag, length). */
function onlyMessage(t: ExecutionContext, data: Buffer): Uint8Array {
  t.true(data.length >= 5, `response body of ${data.length} bytes`);
  t.is(data.readUInt8(0), 0, 'response message compressed');
  const length = data.readUInt32BE(1);
  t.is(data.length, 5 + length, 'exactly one message in the response body');
  return data.subarray(5, 5 + length);
}

/**
 * The flow every real-process case takes: a child connects and passes its socket; the
 * child exits before the call (`connectorExits: 'before-call'`) or after it; the call
 * is made over the passed socket either way.
 */
async function callThroughPassedSocket(
  t: ExecutionContext,
  d: TestDaemon,
  connectorExits: 'before-call' | 'after-call',
  method: string,
  request: Uint8Array,
): Promise<{ reply: RawReply; pid: number }> {
  const passed = await passedSocket(t, d.socketPath);
  if (connectorExits === 'before-call') t.is(await passed.exit(), 0, 'the socket passer exited cleanly');
  const reply = await rawUnary(passed.socket, method, request);
  if (connectorExits === 'after-call') t.is(await passed.exit(), 0, 'the socket passer exited cleanly');
  return { reply, pid: passed.pid };
}

const encryptRequest = () => toBinary(EncryptRequestSchema, create(EncryptRequestSchema, { keyId: 'alpha', plaintext: PLAINTEXT }));

test('control: a socket passed on by a connector that is still alive serves Encrypt (OK, an EncryptResponse of key alpha)', async (t) => {
  const d = await startTestDaemon();
  t.teardown(() => d.dispose());
  const { reply } = await callThroughPassedSocket(t, d, 'after-call', 'Encrypt', encryptRequest());
  t.is(reply.grpcStatus, status.OK, `grpc-message: ${reply.grpcMessage}`);
  const response = fromBinary(EncryptResponseSchema, onlyMessage(t, reply.data));
  t.is(response.keyId, 'alpha');
  t.true(response.ciphertext.length > PLAINTEXT.length);
  // The ciphertext is real: the in-process client decrypts it.
  t.deepEqual(Buffer.from((await d.client.decrypt({ ciphertext: response.ciphertext })).plaintext), PLAINTEXT);
});

test('a socket passed on by a connector that has exited is denied: Encrypt gets PERMISSION_DENIED "permission denied", audited with the recheck reason', async (t) => {
  const { d, auditPath } = await startAuditedDaemon(t);
  const { reply, pid } = await callThroughPassedSocket(t, d, 'before-call', 'Encrypt', encryptRequest());
  t.is(reply.grpcStatus, status.PERMISSION_DENIED, `grpc-message: ${reply.grpcMessage}`);
  t.is(reply.grpcMessage, 'permission denied');
  t.is(reply.data.length, 0, 'no response message');

  const records = await operationRecords(d, auditPath);
  const denial = records.find((r) => r['peer_pid'] === pid);
  t.truthy(denial, `no record of pid ${pid} in ${JSON.stringify(records)}`);
  t.is(denial?.['operation'], 'Encrypt');
  t.is(denial?.['outcome'], 'PERMISSION_DENIED');
  t.regex(String(denial?.['reason']), recheckReason(pid));
});

test('a borrowed connection learns nothing: a call that would fail (unknown key) is PERMISSION_DENIED too, checked before the use case runs', async (t) => {
  const d = await startTestDaemon();
  t.teardown(() => d.dispose());
  const unknownKey = toBinary(EncryptRequestSchema, create(EncryptRequestSchema, { keyId: 'nope', plaintext: PLAINTEXT }));
  const alive = await callThroughPassedSocket(t, d, 'after-call', 'Encrypt', unknownKey);
  t.is(alive.reply.grpcStatus, status.NOT_FOUND, 'control: the live connector is told the key does not exist');
  const exited = await callThroughPassedSocket(t, d, 'before-call', 'Encrypt', unknownKey);
  t.is(exited.reply.grpcStatus, status.PERMISSION_DENIED, `grpc-message: ${exited.reply.grpcMessage}`);
  t.is(exited.reply.grpcMessage, 'permission denied');
});

test('Decrypt through a socket passed on by an exited connector: PERMISSION_DENIED and no plaintext byte on the wire; alive, the plaintext arrives', async (t) => {
  const d = await startTestDaemon();
  t.teardown(() => d.dispose());
  const { ciphertext } = await d.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT });
  const request = toBinary(DecryptRequestSchema, create(DecryptRequestSchema, { ciphertext }));

  // Control: the search below finds the plaintext when the daemon does send it.
  const alive = await callThroughPassedSocket(t, d, 'after-call', 'Decrypt', request);
  t.is(alive.reply.grpcStatus, status.OK, `grpc-message: ${alive.reply.grpcMessage}`);
  t.deepEqual(Buffer.from(fromBinary(DecryptResponseSchema, onlyMessage(t, alive.reply.data)).plaintext), PLAINTEXT);
  t.not(alive.reply.data.indexOf(PLAINTEXT), -1, 'plaintext in the DATA frames of the allowed call');
  t.not(alive.reply.received.indexOf(PLAINTEXT), -1, 'plaintext in the bytes received for the allowed call');

  const gone = await callThroughPassedSocket(t, d, 'before-call', 'Decrypt', request);
  t.is(gone.reply.grpcStatus, status.PERMISSION_DENIED, `grpc-message: ${gone.reply.grpcMessage}`);
  t.is(gone.reply.grpcMessage, 'permission denied');
  t.is(gone.reply.data.indexOf(PLAINTEXT), -1, 'plaintext in the DATA frames of the denied call');
  t.is(gone.reply.received.indexOf(PLAINTEXT), -1, 'plaintext in the bytes received for the denied call');
  t.true(gone.reply.received.length > 0, 'the tap saw the response');
});

// ---------------------------------------------------------------------------------------
// A fixture /proc: the in-process grpc-js client connects from this very pid, so the
// fixture holds <process.pid>/{stat,cgroup,exe} and the test edits the stat file.

interface FixtureProc {
  readonly root: string;
  readonly statPath: string;
  /** This process's real stat line. */
  readonly original: string;
  /** The stat line with field 22 (start time) replaced. */
  withStartTime(startTime: bigint): string;
  readonly startTime: bigint;
}

function fixtureProc(t: ExecutionContext): FixtureProc {
  const root = makeTempDir('keyward-proc-');
  t.teardown(() => rmSync(root, { recursive: true, force: true }));
  const pidDir = join(root, String(process.pid));
  mkdirSync(pidDir);
  const original = readFileSync(`/proc/${process.pid}/stat`, 'latin1');
  const statPath = join(pidDir, 'stat');
  writeFileSync(statPath, original, 'latin1');
  copyFileSync(`/proc/${process.pid}/cgroup`, join(pidDir, 'cgroup'));
  symlinkSync(process.execPath, join(pidDir, 'exe'));
  // Fields 3… follow the last ')' (comm may hold spaces); field 22 is the 20th of them.
  const afterComm = original.lastIndexOf(')') + 2;
  const fields = original.slice(afterComm).split(' ');
  const startTime = BigInt(fields[19]!);
  const withStartTime = (value: bigint) => {
    const edited = [...fields];
    edited[19] = String(value);
    return original.slice(0, afterComm) + edited.join(' ');
  };
  // The edit must reach the field the daemon parses, and only that one.
  t.is(withStartTime(startTime), original);
  return { root, statPath, original, withStartTime, startTime };
}

test('pid reused while calls run (fixture /proc): the call after the start time changes is denied on the same connection; restored, calls succeed again', async (t) => {
  const proc = fixtureProc(t);
  const { d, auditPath } = await startAuditedDaemon(t, proc.root);
  const accepts = countAccepts(t, d.socketPath);
  const encrypt = () => d.client.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT }, { timeoutMs: CALL_TIMEOUT_MS });

  t.is((await encrypt()).keyId, 'alpha');

  writeFileSync(proc.statPath, proc.withStartTime(proc.startTime + 1n), 'latin1');
  await rejectsWithCode(t, encrypt(), status.PERMISSION_DENIED, 'permission denied');
  // Twice: a reconnection would have read the new start time at accept and passed.
  await rejectsWithCode(t, encrypt(), status.PERMISSION_DENIED, 'permission denied');

  writeFileSync(proc.statPath, proc.original, 'latin1');
  t.is((await encrypt()).keyId, 'alpha');
  t.is(accepts(), 1, 'every call went over the one connection');

  const records = await operationRecords(d, auditPath);
  t.deepEqual(
    records.map((r) => [r['operation'], r['outcome'], r['peer_pid']]),
    [
      ['Encrypt', 'ok', process.pid],
      ['Encrypt', 'PERMISSION_DENIED', process.pid],
      ['Encrypt', 'PERMISSION_DENIED', process.pid],
      ['Encrypt', 'ok', process.pid],
    ],
  );
  for (const denial of records.filter((r) => r['outcome'] === 'PERMISSION_DENIED')) t.regex(String(denial['reason']), recheckReason(process.pid));
  t.is(records[0]?.['reason'], undefined);
});

test('a connector whose /proc entry is gone at accept is refused: the call fails UNAVAILABLE; with the entry back a fresh connection is served', async (t) => {
  const proc = fixtureProc(t);
  const d = await startTestDaemon({ daemonOptions: { procRoot: proc.root } });
  t.teardown(() => d.dispose());
  const accepts = countAccepts(t, d.socketPath);

  rmSync(proc.statPath);
  // Each client gets its own subchannel: grpc-js shares them between channels to the
  // same target by default, and the refused one stays in backoff after the refusal.
  const refused = createKeyServiceClient(d.socketPath, OWN_SUBCHANNEL);
  t.teardown(() => refused.close());
  // UNAVAILABLE, not UNAUTHENTICATED: the daemon's accept handler fails to identify the
  // peer (inspect() finds no stat) and destroys the socket before a single HTTP/2 byte
  // is written, so there is no session to carry a status. grpc-js sees its connection
  // closed before the server's SETTINGS, marks the subchannel TRANSIENT_FAILURE and fails
  // the (not wait-for-ready) call with UNAVAILABLE.
  await rejectsWithCode(t, refused.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT }, { timeoutMs: CALL_TIMEOUT_MS }), status.UNAVAILABLE);
  t.true(accepts() >= 1, 'the kernel connected and the daemon accepted before refusing');

  writeFileSync(proc.statPath, proc.original, 'latin1');
  const served = createKeyServiceClient(d.socketPath, OWN_SUBCHANNEL);
  t.teardown(() => served.close());
  t.is((await served.encrypt({ keyId: 'alpha', plaintext: PLAINTEXT }, { timeoutMs: CALL_TIMEOUT_MS })).keyId, 'alpha');
});
