// A client process for pid-recheck.test.ts: connects to the daemon's data socket (so the
// daemon records this process's pid and start time at accept), hands the connected
// socket to its parent over the IPC channel (SCM_RIGHTS, Node's handle passing), and
// exits when the parent says so. The parent then speaks gRPC on a connection whose
// connecting process is alive or gone, depending on when it sent 'exit'.
//
// Usage: node socket-passer-entry.js <socket path>   (with an 'ipc' stdio channel)
// Messages to the parent: 'socket' with the handle. From the parent: 'exit'.
import { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** Time the daemon (in the parent's event loop) gets to accept and read /proc of this process. */
const ACCEPT_GRACE_MS = 100;

async function main(): Promise<void> {
  const path = process.argv[2];
  if (path === undefined || process.send === undefined) throw new Error('usage: socket-passer-entry <socket path> (with an ipc channel)');
  const socket = new Socket();
  // Paused before connecting, so Node never starts reading the fd here: the daemon's
  // HTTP/2 SETTINGS frame, sent right after accept, must stay in the kernel buffer for
  // the parent. Read here, it would be lost with this process's copy of the socket and
  // the parent's HTTP/2 client would never see the server's preface.
  socket.pause();
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(path, () => {
      socket.off('error', reject);
      resolve();
    });
  });
  await sleep(ACCEPT_GRACE_MS);
  process.on('message', (message) => {
    if (message === 'exit') process.exit(0);
  });
  // Without the parent (test crashed), do not linger.
  process.once('disconnect', () => process.exit(0));
  process.send('socket', socket);
}

main().catch((err: unknown) => {
  process.stderr.write(`${String(err)}\n`);
  process.exit(2);
});
