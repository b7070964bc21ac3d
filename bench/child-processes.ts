// Starts the two servers of the benchmark in child processes, so that neither shares
// an event loop with the load generator: the keyward daemon through its real
// `keyward serve` command, and the bare grpc-js echo server. Each child is preloaded
// with orphan-guard.js, is waited for until its socket accepts, and is stopped with
// SIGTERM then SIGKILL; a process 'exit' hook kills whatever is left.
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { OPERATIONS } from '../src/core/caller.js';

const ORPHAN_GUARD = pathToFileURL(fileURLToPath(new URL('./orphan-guard.js', import.meta.url))).href;
const KEYWARD_CLI = fileURLToPath(new URL('../src/cli/main.js', import.meta.url));
const ECHO_SERVER = fileURLToPath(new URL('./echo-server.js', import.meta.url));
const STDERR_TAIL_BYTES = 4_096;

export interface ServerChild {
  readonly name: string;
  readonly pid: number;
  readonly socketPath: string;
  /** The last bytes the child wrote to stderr (for error messages). */
  stderrTail(): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves when the process is gone. */
  stop(graceMs?: number): Promise<void>;
  /** SIGKILL at once (for a run that must end now). */
  kill(): void;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

export interface SpawnOptions {
  /** Directory for `--cpu-prof` output; no profiling when undefined. */
  readonly cpuProfileDir?: string | undefined;
  readonly startTimeoutMs?: number;
}

function nodeArgs(options: SpawnOptions): string[] {
  const args = ['--import', ORPHAN_GUARD];
  // Profiles are named by Node's default pattern, which carries the pid.
  if (options.cpuProfileDir !== undefined) args.push('--cpu-prof', `--cpu-prof-dir=${options.cpuProfileDir}`);
  return args;
}

/** Our environment minus what would change the child's behaviour behind our back. */
function childEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    // KEYWARD_* would override the benchmark's own config (sockets, log level).
    if (!k.startsWith('KEYWARD_') && k !== 'NODE_OPTIONS') env[k] = v;
  }
  return env;
}

function canConnect(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function startChild(name: string, args: string[], socketPath: string, options: SpawnOptions): Promise<ServerChild> {
  const child = spawn(process.execPath, [...nodeArgs(options), ...args], {
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
    env: childEnv(),
  });
  live.add(child);
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (chunk: string) => {
    stderr = (stderr + chunk).slice(-STDERR_TAIL_BYTES);
  });
  const exited = new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve();
    child.once('exit', () => {
      live.delete(child);
      resolve();
    });
  });
  let gone = false;
  void exited.then(() => (gone = true));
  const handle: ServerChild = {
    name,
    pid: child.pid ?? -1,
    socketPath,
    stderrTail: () => stderr.trim(),
    kill: () => {
      if (!gone) child.kill('SIGKILL');
    },
    async stop(graceMs = 5_000) {
      if (gone) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
  const deadline = Date.now() + (options.startTimeoutMs ?? 20_000);
  while (!(await canConnect(socketPath))) {
    if (gone) throw new Error(`${name} exited before serving on ${socketPath}: ${handle.stderrTail() || 'no output'}`);
    if (Date.now() > deadline) {
      await handle.stop(1_000);
      throw new Error(`${name} did not serve on ${socketPath} within the start timeout: ${handle.stderrTail() || 'no output'}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return handle;
}

/**
 * The default `authorization` section: the benchmark process runs as the daemon's uid, so
 * one rule granting uid `self` every operation on every key lets every call through
 * (without it the daemon denies everything: the default is deny).
 */
const ALLOW_SELF_EVERYTHING_YAML: readonly string[] = [
  'authorization:',
  '  rules:',
  `    - { name: bench-process, match: { uid: self }, keys: ["*"], operations: ${JSON.stringify(OPERATIONS)} }`, // JSON is YAML flow syntax
];

/** What the daemon's configuration may change besides `extraYaml`. */
export interface DaemonConfigOptions {
  /**
   * The whole `authorization:` section as YAML lines (starting with `authorization:`);
   * default ALLOW_SELF_EVERYTHING_YAML.
   */
  readonly authorizationYaml?: readonly string[];
  /** More entries of `keys:`, as YAML list items (`  - { id: …, … }`), after the standard keys. */
  readonly extraKeysYaml?: readonly string[];
}

/** The daemon's configuration for the run: the local backend, logging off, the bench process allowed everything. */
function daemonConfigYaml(dir: string, extraYaml: readonly string[], config: DaemonConfigOptions): string {
  return [
    '# keyward benchmark daemon (temporary; written by bench/run.js)',
    'server:',
    `  data_socket: { path: ${JSON.stringify(join(dir, 'keyward.sock'))}, mode: "0600" }`,
    `  admin_socket: { path: ${JSON.stringify(join(dir, 'admin.sock'))}, mode: "0600" }`,
    '  shutdown_grace_ms: 2000',
    'backends:',
    `  local: { type: local, keystore_dir: ${JSON.stringify(join(dir, 'keystore'))} }`,
    'keys:',
    '  - { id: alpha, purpose: encrypt, algorithm: aes-256-gcm, backend: local }',
    '  - { id: sign-ed25519, purpose: sign, algorithm: ed25519, backend: local }',
    '  - { id: sign-p256, purpose: sign, algorithm: ecdsa-p256, backend: local }',
    '  - { id: sign-rsa, purpose: sign, algorithm: rsa-4096, backend: local }',
    '  - { id: mac-hmac, purpose: mac, algorithm: hmac-sha256, backend: local }',
    ...(config.extraKeysYaml ?? []),
    'log:',
    '  level: silent',
    ...(config.authorizationYaml ?? ALLOW_SELF_EVERYTHING_YAML),
    ...extraYaml,
    '',
  ].join('\n');
}

/**
 * `keyward serve --config <dir>/keyward.yaml` in a child process. `extraYaml` adds
 * top-level sections (not `authorization:`: pass `config.authorizationYaml` for that).
 */
export function startDaemonChild(
  dir: string,
  options: SpawnOptions = {},
  extraYaml: readonly string[] = [],
  config: DaemonConfigOptions = {},
): Promise<ServerChild> {
  if (extraYaml.some((line) => line.startsWith('authorization:'))) {
    throw new Error('startDaemonChild: pass the authorization section as config.authorizationYaml, not in extraYaml');
  }
  const configFile = join(dir, 'keyward.yaml');
  writeFileSync(configFile, daemonConfigYaml(dir, extraYaml, config), { mode: 0o600 });
  return startChild('keyward', [KEYWARD_CLI, 'serve', '--config', configFile], join(dir, 'keyward.sock'), options);
}

/** The bare grpc-js echo server in a child process. */
export function startEchoChild(dir: string, options: SpawnOptions & { inject?: boolean } = {}): Promise<ServerChild> {
  const socketPath = join(dir, 'echo.sock');
  return startChild('echo', [ECHO_SERVER, socketPath, ...(options.inject ? ['--inject'] : [])], socketPath, options);
}
