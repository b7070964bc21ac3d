// Offline tools that write what the daemon writes (the keystore, the audit log) must not
// run beside it: two writers would break the audit log's hash chain and race on key
// files. The daemon is taken to be running when its data or admin socket accepts a
// connection; a socket file nobody listens on (a crash) does not count. (The instance
// lock covers a daemon still starting, in the same network namespace: instance-lock.ts.)
import { socketAccepts } from '../api/unix-socket-listener.js';
import type { Config } from '../config/config-schema.js';
import { KeywardError } from '../core/keyward-error.js';

/** Whether something accepts connections on `path`; failed-precondition when that cannot be told. */
async function accepts(path: string): Promise<boolean> {
  try {
    return await socketAccepts(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new KeywardError('failed-precondition', `cannot tell whether a daemon listens on ${path} (${code}); stop it, or run as a user who may connect`, { cause: err });
  }
}

/**
 * `already-exists` when the daemon of `configFile` serves on either socket — the code of
 * the instance lock, which says the same of a daemon still starting.
 */
export async function refuseWhileServing(server: Config['server'], configFile: string, what: string): Promise<void> {
  for (const path of [server.data_socket.path, server.admin_socket.path]) {
    if (await accepts(path)) {
      throw new KeywardError('already-exists', `the daemon of ${configFile} is running (${path} accepts connections): stop it before ${what}`);
    }
  }
}
