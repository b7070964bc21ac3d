// The reference point of the benchmark, run as a child process: a bare grpc-js server
// serving the echo service (echo-service.ts) on a Unix socket. Encrypt's throughput is
// compared against it, in the same run with the same clients, so the ratio shows what
// keyward adds on top of grpc-js itself.
//   node dist/bench/echo-server.js <socket-path> [--inject]
// --inject accepts on our own net.Server and hands sockets to grpc-js, as the data
// plane does, instead of letting grpc-js bind the socket.
import { Server, ServerCredentials, type handleUnaryCall } from '@grpc/grpc-js';
import { rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { echoServiceDefinition } from './echo-service.js';

const echo: handleUnaryCall<Buffer, Buffer> = (call, callback) => callback(null, call.request);

async function listen(server: Server, socketPath: string, inject: boolean): Promise<void> {
  rmSync(socketPath, { force: true });
  if (inject) {
    const injector = server.createConnectionInjector(ServerCredentials.createInsecure());
    const net = createServer({ allowHalfOpen: false }, (socket) => injector.injectConnection(socket));
    await new Promise<void>((resolve, reject) => {
      net.once('error', reject);
      net.listen(socketPath, () => resolve());
    });
    return;
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix:${socketPath}`, ServerCredentials.createInsecure(), (err) => (err ? reject(err) : resolve())),
  );
}

async function main(socketPath: string, inject: boolean): Promise<void> {
  // The data plane's server options, so only the handler and the codec differ.
  const server = new Server({
    'grpc.max_receive_message_length': 4 * 1024 * 1024,
    'grpc.max_send_message_length': 4 * 1024 * 1024,
    'grpc.default_compression_algorithm': 0,
  });
  server.addService(echoServiceDefinition, { echo });
  await listen(server, socketPath, inject);
  const stop = () => {
    const done = () => {
      rmSync(socketPath, { force: true });
      process.exit(0);
    };
    const timer = setTimeout(() => {
      server.forceShutdown();
      done();
    }, 2_000);
    server.tryShutdown(() => {
      clearTimeout(timer);
      done();
    });
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

const socketPath = process.argv[2];
if (socketPath === undefined) {
  process.stderr.write('usage: echo-server.js <socket-path> [--inject]\n');
  process.exit(2);
}
main(socketPath, process.argv.includes('--inject')).catch((err: unknown) => {
  process.stderr.write(`echo server failed: ${String(err)}\n`);
  process.exit(1);
});
