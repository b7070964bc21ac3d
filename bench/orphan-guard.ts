// Preloaded (`node --import`) into every benchmark child process so that a child never
// outlives the benchmark: when the parent goes away, even by SIGKILL, the IPC channel
// closes and the child stops itself the way an operator would (SIGTERM), then hard.
const GRACE_MS = 5_000;

if (process.channel !== undefined) {
  // The channel alone must not keep the child alive, and no message is ever expected.
  process.channel.unref();
  process.once('disconnect', () => {
    setTimeout(() => process.exit(1), GRACE_MS).unref();
    process.kill(process.pid, 'SIGTERM');
  });
}

export {};
