// How the Vault backend tests get a Vault and a backend on it: the test Vault (an HTTP
// server in this process) by default, or a real Vault when VAULT_ADDR and VAULT_TOKEN are
// set (VAULT_NAMESPACE and VAULT_TRANSIT_MOUNT optional; see docs/vault.md). Settings go
// through the real configuration schema, so defaults have one source. Secrets are
// generated at run time and written to 0600 files in a temp directory.
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { VaultBackend } from '../../../src/backends/vault/vault-backend.js';
import type { VaultBackendSettings } from '../../../src/backends/vault/vault-backend-settings.js';
import type { Timing } from '../../../src/backends/vault/timing.js';
import type { VaultBackendConfig } from '../../../src/config/config-schema.js';
import { parseConfig } from '../../../src/config/load-config.js';
import type { Logger } from '../../../src/core/logger.js';
import { silentLogger } from '../../../src/core/logger.js';
import { startVaultServer, type TestVaultServer, type VaultServerOptions } from '../vault-server.js';

export interface VaultTarget {
  readonly address: string;
  /** A real Vault (VAULT_ADDR / VAULT_TOKEN): tests that inject faults skip. */
  readonly real: boolean;
  readonly namespace: string | undefined;
  readonly transitMount: string;
  /** The test Vault, when not real. */
  readonly server: TestVaultServer | undefined;
  /** A file holding a token with the rights the tests need. */
  readonly tokenFile: string;
  readonly dir: string;
  /** Writes a secret to a fresh 0600 file; returns its path. */
  secretFile(value: string): string;
  /** Remembers a Transit key to delete at close (real Vault). */
  created(name: string): void;
  close(): Promise<void>;
}

export async function startVaultTarget(options: VaultServerOptions = {}): Promise<VaultTarget> {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-vault-'));
  let files = 0;
  const secretFile = (value: string) => {
    const file = join(dir, `secret-${++files}`);
    writeFileSync(file, `${value}\n`, { mode: 0o600 });
    return file;
  };
  const realAddress = process.env['VAULT_ADDR'];
  const realToken = process.env['VAULT_TOKEN'];
  if (realAddress && realToken) {
    const namespace = process.env['VAULT_NAMESPACE'] || undefined;
    const transitMount = process.env['VAULT_TRANSIT_MOUNT'] || 'transit';
    const keys: string[] = [];
    return {
      address: realAddress,
      real: true,
      namespace,
      transitMount,
      server: undefined,
      tokenFile: secretFile(realToken),
      dir,
      secretFile,
      created: (name) => keys.push(name),
      close: async () => {
        const headers = { 'X-Vault-Token': realToken, ...(namespace ? { 'X-Vault-Namespace': namespace } : {}) };
        for (const name of keys) {
          const url = `${realAddress.replace(/\/$/, '')}/v1/${transitMount}/keys/${name}`;
          await fetch(`${url}/config`, { method: 'POST', headers, body: JSON.stringify({ deletion_allowed: true }) }).catch(() => undefined);
          await fetch(url, { method: 'DELETE', headers }).catch(() => undefined);
        }
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const server = await startVaultServer(options);
  return {
    address: server.address,
    real: false,
    namespace: options.namespace,
    transitMount: options.transitMounts?.[0] ?? 'transit',
    server,
    tokenFile: secretFile(server.rootToken),
    dir,
    secretFile,
    created: () => {},
    close: async () => {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** A random prefix, so each backend gets keys of its own in one Vault. */
export function uniquePrefix(label = 't'): string {
  return `${label}-${randomBytes(5).toString('hex')}-`;
}

/** The raw `backends.<name>` entry for `target`, with token auth unless overridden. */
export function vaultBackendEntry(target: VaultTarget, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    type: 'vault',
    address: target.address,
    ...(target.namespace ? { namespace: target.namespace } : {}),
    transit_mount: target.transitMount,
    auth: { method: 'token', token: { file: target.tokenFile } },
    ...overrides,
  };
}

/** Validates a `backends.<name>` entry with the real configuration schema (defaults applied). */
export function vaultSettings(entry: Record<string, unknown>): VaultBackendSettings {
  const config = parseConfig({
    server: { data_socket: { path: '/tmp/keyward-unused.sock' }, admin_socket: { path: '/tmp/keyward-unused-admin.sock' } },
    backends: { vault: entry },
    keys: [{ id: 'unused', purpose: 'encrypt', algorithm: 'aes-256-gcm', backend: 'vault' }],
  });
  return config.backends['vault'] as VaultBackendConfig;
}

export async function openVaultBackend(
  settings: VaultBackendSettings,
  options: { name?: string; logger?: Logger; timing?: Timing } = {},
): Promise<VaultBackend> {
  const backend = new VaultBackend({
    name: options.name ?? 'vault',
    settings,
    logger: options.logger ?? silentLogger,
    ...(options.timing ? { timing: options.timing } : {}),
  });
  await backend.open();
  return backend;
}

export interface RecordingLogger {
  readonly logger: Logger;
  /** Every log call, serialized as pino would (errors with message, stack, cause and own fields). */
  readonly lines: string[];
  /** The lines at `level` or above, parsed. */
  events(): Array<Record<string, unknown>>;
}

function serialize(value: unknown, seen = new Set<unknown>()): unknown {
  if (value === null || typeof value !== 'object') return typeof value === 'bigint' ? value.toString() : value;
  if (seen.has(value)) return '[circular]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { type: value.name, message: value.message, stack: value.stack };
    for (const [k, v] of Object.entries(value)) out[k] = serialize(v, seen);
    if (value.cause !== undefined) out['cause'] = serialize(value.cause, seen);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => serialize(v, seen));
  if (Buffer.isBuffer(value)) return value.toString('base64');
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) out[k] = serialize(v, seen);
  return out;
}

export function recordingLogger(): RecordingLogger {
  const lines: string[] = [];
  const make = (bindings: Record<string, unknown>, level: string): ((objOrMsg: unknown, msg?: string) => void) =>
    (objOrMsg, msg) => {
      const fields = typeof objOrMsg === 'string' ? { msg: objOrMsg } : { ...(serialize(objOrMsg) as object), msg };
      lines.push(JSON.stringify({ level, ...bindings, ...fields }));
    };
  const build = (bindings: Record<string, unknown>): Logger => ({
    debug: make(bindings, 'debug') as Logger['debug'],
    info: make(bindings, 'info') as Logger['info'],
    warn: make(bindings, 'warn') as Logger['warn'],
    error: make(bindings, 'error') as Logger['error'],
    child: (more) => build({ ...bindings, ...more }),
  });
  return { logger: build({}), lines, events: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Everything an error can show: message, stack, cause chain, util.inspect. */
export function everythingIn(err: unknown): string {
  return `${JSON.stringify(serialize(err))}\n${inspect(err, { depth: 10 })}`;
}
