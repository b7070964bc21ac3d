// Offline tools that write what the daemon writes (the keystore, the audit log) must not
// run beside it: two writers would break the audit log's hash chain and race on key
// files. The daemon is taken to be running when its data or admin socket accepts a
// connection; a socket file nobody listens on (a crash) does not count.
import { connect } from 'node:net';
import type { Config } from '../config/config-schema.js';
import { KeywardError } from '../core/keyward-error.js';

/** Errors that say nobody listens on the path. */
const NOT_LISTENING = new Set(['ENOENT', 'ECONNREFUSED']);

/** Whether something accepts connections on the Unix socket `path`; any other answer throws. */
function accepts(path: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      socket.destroy();
      if (NOT_LISTENING.has(err.code ?? '')) resolve(false);
      else reject(new KeywardError('failed-precondition', `cannot tell whether a daemon listens on ${path} (${err.code ?? err.message}); stop it, or run as a user who may connect`, { cause: err }));
    });
  });
}

/** `failed-precondition` when the daemon of `configFile` serves on either socket. */
export async function refuseWhileServing(server: Config['server'], configFile: string, what: string): Promise<void> {
  for (const path of [server.data_socket.path, server.admin_socket.path]) {
    if (await accepts(path)) {
      throw new KeywardError('failed-precondition', `the daemon of ${configFile} is running (${path} accepts connections): stop it before ${what}`);
    }
  }
}
