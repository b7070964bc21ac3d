// Starts a real keyward daemon in this process on sockets in a fresh temp directory,
// with real grpc-js clients connected over those sockets. Tests and benchmarks use it;
// the keys are generated at run time in the temp keystore.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKeyAdminClient, createKeyServiceClient, type KeyAdminClient, type KeyServiceClient } from '../../src/client/keyward-client.js';
import type { Config } from '../../src/config/config-schema.js';
import { parseConfig } from '../../src/config/load-config.js';
import type { Logger } from '../../src/core/logger.js';
import { silentLogger } from '../../src/core/logger.js';
import { KeywardDaemon, type DaemonOptions } from '../../src/daemon/keyward-daemon.js';
import { ALLOW_SELF_EVERYTHING } from './allow-all-callers.js';

export interface TestDaemon {
  readonly dir: string;
  readonly config: Config;
  readonly daemon: KeywardDaemon;
  readonly client: KeyServiceClient;
  readonly admin: KeyAdminClient;
  readonly socketPath: string;
  readonly adminSocketPath: string;
  /** Stops the daemon and closes the clients; keeps the directory (for restarts). */
  stop(): Promise<void>;
  /** stop() and remove the directory. */
  dispose(): Promise<void>;
}

export const DEFAULT_TEST_KEYS = [
  { id: 'alpha', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'beta', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'gamma', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'local' },
  { id: 'signer', purpose: 'sign', algorithm: 'ed25519', backend: 'local' },
  { id: 'hmac', purpose: 'mac', algorithm: 'hmac-sha256', backend: 'local' },
];

export function makeTempDir(prefix = 'keyward-test-'): string {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** A raw (unvalidated) configuration for a daemon rooted at `dir`. */
export function testConfigObject(dir: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    server: {
      data_socket: { path: join(dir, 'keyward.sock') },
      admin_socket: { path: join(dir, 'admin.sock') },
      shutdown_grace_ms: 2_000,
    },
    backends: { local: { type: 'local', keystore_dir: join(dir, 'keystore') } },
    keys: DEFAULT_TEST_KEYS,
    authorization: ALLOW_SELF_EVERYTHING,
    log: { level: 'silent' },
    ...overrides,
  };
}

export interface StartOptions {
  /** Reuse a directory (and so its keystore) from an earlier daemon. */
  readonly dir?: string;
  readonly overrides?: Record<string, unknown>;
  readonly logger?: Logger;
  readonly daemonOptions?: DaemonOptions;
}

export async function startTestDaemon(options: StartOptions = {}): Promise<TestDaemon> {
  const dir = options.dir ?? makeTempDir();
  const config = parseConfig(testConfigObject(dir, options.overrides));
  const daemon = await KeywardDaemon.start(config, options.logger ?? silentLogger, options.daemonOptions);
  const socketPath = config.server.data_socket.path;
  const adminSocketPath = config.server.admin_socket.path;
  const client = createKeyServiceClient(socketPath);
  const admin = createKeyAdminClient(adminSocketPath);
  const stop = async () => {
    client.close();
    admin.close();
    await daemon.stop();
  };
  return {
    dir,
    config,
    daemon,
    client,
    admin,
    socketPath,
    adminSocketPath,
    stop,
    dispose: async () => {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
