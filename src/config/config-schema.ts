// The configuration schema: every field, its default and its limits, in one place
// (docs/configuration.md documents the same fields). Unknown keys are errors, and no
// field holds a secret inline: secrets are named by file or environment variable.
import { resolve } from 'node:path';
import { z } from 'zod';
import { auditLogConfigSchema } from '../audit/audit-log-config.js';
import { authorizationConfigSchema } from '../authz/authorization-config.js';
import { ALGORITHMS_BY_PURPOSE, KEY_ID_PATTERN } from '../core/key-types.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** sun_path is 108 bytes on Linux, including the terminating NUL. */
const MAX_SOCKET_PATH_BYTES = 107;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

const OCTAL_MODE = /^0?o?[0-7]{3,4}$/;

/** A custom check, so a number (an unquoted YAML 0660 reads as 660) gets the hint too. */
const fileMode = (defaultMode: string) =>
  z
    .custom<string>((v) => typeof v === 'string' && OCTAL_MODE.test(v), {
      error: (issue) =>
        typeof issue.input === 'number'
          ? `expected an octal mode as a string, e.g. "0660" (got the number ${issue.input}: quote it, YAML reads an unquoted 0660 as 660)`
          : 'expected an octal mode as a string, e.g. "0660"',
    })
    .default(defaultMode)
    .transform((s) => Number.parseInt(s.replace(/^0?o?/, ''), 8));

const socketPath = z
  .string()
  .min(1)
  .refine((p) => Buffer.byteLength(resolve(p)) <= MAX_SOCKET_PATH_BYTES, {
    message: `the absolute socket path must be at most ${MAX_SOCKET_PATH_BYTES} bytes (a Unix socket limit)`,
  });

const socketSchema = (defaultMode: string) =>
  z.strictObject({
    path: socketPath,
    mode: fileMode(defaultMode),
    /** Group name or gid that owns the socket (data plane: the apps' group). */
    group: z.union([z.string().min(1), int(0, 2 ** 32 - 1)]).optional(),
  });

/** A secret is never inline: it is read from a file or an environment variable. */
export const secretRefSchema = z.union([
  z.strictObject({ file: z.string().min(1) }),
  z.strictObject({ env: z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name') }),
]);

/** TLS towards a server keyward calls (Vault, an OTLP collector). */
const tlsClientSchema = z
  .strictObject({
    ca_file: z.string().min(1).optional(),
    client_cert_file: z.string().min(1).optional(),
    client_key: secretRefSchema.optional(),
    server_name: z.string().min(1).optional(),
  })
  .refine((t) => (t.client_cert_file === undefined) === (t.client_key === undefined), { message: 'client_cert_file and client_key go together' });

const localBackendSchema = z.strictObject({
  type: z.literal('local'),
  /** Directory of wrapped key versions; created 0700 if missing. */
  keystore_dir: z.string().min(1),
  /** The root key file (created 0600 on first start). Default: <keystore_dir>/root.key. */
  root_key_file: z.string().min(1).optional(),
});

/** A path inside Vault without leading or trailing slashes ("transit", "team-a/transit"). */
const vaultMount = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9._-]+)*$/, 'expected a mount path such as "transit" (no leading or trailing slash)');
const vaultDataKeySource = z.enum(['vault', 'local']);

const vaultBackendSchema = z.strictObject({
  type: z.literal('vault'),
  address: z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }),
  /** Vault Enterprise namespace. */
  namespace: z.string().min(1).optional(),
  transit_mount: vaultMount.default('transit'),
  key_name_prefix: z.string().regex(/^[A-Za-z0-9._-]{0,64}$/, 'expected up to 64 characters of A-Z a-z 0-9 . _ -').default(''),
  auth: z.discriminatedUnion('method', [
    z.strictObject({ method: z.literal('token'), token: secretRefSchema }),
    z.strictObject({ method: z.literal('approle'), role_id: secretRefSchema, secret_id: secretRefSchema, mount: vaultMount.default('approle') }),
    z.strictObject({
      method: z.literal('kubernetes'),
      role: z.string().min(1),
      jwt: secretRefSchema.default({ file: '/var/run/secrets/kubernetes.io/serviceaccount/token' }),
      mount: vaultMount.default('kubernetes'),
    }),
  ]),
  tls: tlsClientSchema.optional(),
  request_timeout_ms: int(100, 120_000).default(5_000),
  retry: z
    .strictObject({ max_attempts: int(1, 10).default(3), base_delay_ms: int(1, 60_000).default(100), max_delay_ms: int(1, 300_000).default(2_000) })
    .prefault({}),
  circuit_breaker: z.strictObject({ failure_threshold: int(1, 1_000).default(5), open_ms: int(10, 600_000).default(5_000) }).prefault({}),
  max_concurrent_requests: int(1, 1_024).default(32),
  key_poll_interval_ms: int(100, 3_600_000).default(15_000),
  create_keys: z.boolean().default(true),
  data_key_source: vaultDataKeySource.default('vault'),
  data_key_source_by_key: z.record(z.string().regex(KEY_ID_PATTERN, 'expected a key id'), vaultDataKeySource).default({}),
});

/** The PKCS#11 backend: keys live in an HSM token (docs/hsm.md). */
const pkcs11BackendSchema = z
  .strictObject({
    type: z.literal('pkcs11'),
    /** The PKCS#11 library. Default: the token URI's module-path, else /usr/lib/softhsm/libsofthsm2.so. */
    module: z.string().min(1).optional(),
    /** The token's label, or an RFC 7512 `pkcs11:` URI naming it. Exactly one of token and slot_id. */
    token: z.string().min(1).max(1024).optional(),
    slot_id: int(0, Number.MAX_SAFE_INTEGER).optional(),
    /** The user PIN: a file or an environment variable, never inline. */
    pin: secretRefSchema,
    /** Key objects are labelled `<key_prefix>/<key id>/v<N>`. */
    key_prefix: z
      .string()
      .max(64)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*(\/[A-Za-z0-9][A-Za-z0-9._-]*)*$/, 'expected segments of A-Z a-z 0-9 . _ - separated by "/"')
      .default('keyward'),
    /** Generate a declared key that is missing from the token (else the daemon refuses to start). */
    create_missing_keys: z.boolean().default(false),
    /** Logged-in sessions; at most this many HSM operations run at once. */
    sessions: int(1, 64).default(4),
    /** How long a call waits for a free session before it gets UNAVAILABLE. */
    session_wait_ms: int(1, 600_000).default(10_000),
    /** Backoff between attempts to reopen a lost token. */
    reconnect_initial_ms: int(1, 60_000).default(250),
    reconnect_max_ms: int(1, 600_000).default(30_000),
  })
  .refine((b) => (b.token === undefined) !== (b.slot_id === undefined), {
    message: 'name the token with exactly one of "token" (a label or a pkcs11: URI) and "slot_id"',
  })
  .refine((b) => b.reconnect_max_ms >= b.reconnect_initial_ms, {
    message: 'reconnect_max_ms must be at least reconnect_initial_ms',
    path: ['reconnect_max_ms'],
  });

const backendSchema = z.discriminatedUnion('type', [localBackendSchema, vaultBackendSchema, pkcs11BackendSchema]);

/** How the daemon reaches an OTLP collector, beyond its endpoint. */
const otlpConnection = {
  /** Extra headers (gRPC metadata), each value a secret read from a file or variable. */
  headers: z.record(z.string().regex(/^[a-z0-9-]+$/, 'expected a lowercase header name'), secretRefSchema).default({}),
  tls: tlsClientSchema.optional(),
};

const keySchema = z.strictObject({
  id: z.string().regex(KEY_ID_PATTERN, 'expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit'),
  purpose: z.enum(['encrypt', 'sign', 'mac']),
  algorithm: z.enum(['aes-256-gcm', 'ed25519', 'ecdsa-p256', 'rsa-4096', 'hmac-sha256']),
  /** The name of an entry of `backends`. */
  backend: z.string().min(1),
  /**
   * Rotation period in days (policy §3.6); the key is reported overdue past it plus the
   * policy's grace. Default by purpose: encrypt 365 (KEK, annual), sign and mac 90.
   */
  rotation_period_days: int(1, 3_650).optional(),
});

export const configSchema = z
  .strictObject({
    server: z.strictObject({
      data_socket: socketSchema('0660'),
      admin_socket: socketSchema('0600'),
      /** How long SIGTERM waits for in-flight calls before cutting them off. */
      shutdown_grace_ms: int(0, 600_000).default(10_000),
    }),
    limits: z
      .strictObject({
        max_plaintext_bytes: int(1, 64 * MiB).default(1 * MiB),
        max_associated_data_bytes: int(0, 1 * MiB).default(64 * KiB),
        max_batch_items: int(1, 100_000).default(1_000),
        max_batch_bytes: int(1, 256 * MiB).default(16 * MiB),
      })
      .prefault({}),
    cache: z
      .strictObject({
        encrypt: z
          .strictObject({
            max_age_ms: int(1, 24 * 3600 * 1000).default(300_000),
            max_messages: int(1, 2 ** 32).default(2 ** 20),
            max_bytes: int(1, 2 ** 50).default(1 * GiB),
            max_keys: int(1, 1_000_000).default(1_024),
          })
          .prefault({}),
        decrypt: z
          .strictObject({
            ttl_ms: int(1, 24 * 3600 * 1000).default(300_000),
            max_entries: int(1, 10_000_000).default(10_000),
          })
          .prefault({}),
      })
      .prefault({}),
    backends: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,31}$/, 'expected a lowercase backend name'), backendSchema),
    keys: z.array(keySchema).min(1),
    /** Who may do what on which keys (docs/authorization.md). Absent: nobody may do anything. */
    authorization: authorizationConfigSchema.prefault({}),
    /** Key escrow and recovery (policy §7, docs/escrow.md). Off when absent. */
    escrow: z
      .strictObject({
        /** 32 raw bytes, mode 0600: the key that seals escrowed key material before it is split. */
        master_key_file: z.string().min(1),
      })
      .optional(),
    audit: z
      .strictObject({
        /** The local hash-chained audit log (docs/audit.md). Off when absent. */
        log: auditLogConfigSchema.optional(),
      })
      .prefault({}),
    telemetry: z
      .strictObject({
        /** OTLP trace export: one SERVER span per call (docs/tracing.md). Off when absent. */
        traces: z
          .strictObject({
            protocol: z.enum(['grpc', 'http']),
            /** grpc: http://host:4317 or unix:///path; http: the full URL, e.g. http://host:4318/v1/traces. */
            endpoint: z.string().regex(/^(https?|unix):\/\//, 'expected an http://, https:// or unix:// URL'),
            ...otlpConnection,
            /** Spans leave at most this long after they end (batching). */
            export_interval_ms: int(100, 5_000).default(1_000),
            /** Spans waiting for export; when the collector is down, spans past this are dropped. */
            max_queue_size: int(1, 1_000_000).default(2_048),
          })
          .optional(),
        /** OTLP metric export (docs/tracing.md lists the metrics). Off when absent. */
        metrics: z
          .strictObject({
            protocol: z.enum(['grpc', 'http']),
            /** grpc: http://host:4317 or unix:///path; http: the full URL, e.g. http://host:4318/v1/metrics. */
            endpoint: z.string().regex(/^(https?|unix):\/\//, 'expected an http://, https:// or unix:// URL'),
            ...otlpConnection,
            export_interval_ms: int(100, 300_000).default(15_000),
          })
          .optional(),
        /** A Prometheus scrape endpoint (GET /metrics). Off by default. */
        prometheus: z
          .strictObject({
            host: z.string().min(1).default('127.0.0.1'),
            port: int(1, 65_535).default(9464),
          })
          .optional(),
      })
      .prefault({}),
    log: z
      .strictObject({
        level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
      })
      .prefault({}),
  })
  .superRefine((config, ctx) => {
    const seen = new Set<string>();
    config.keys.forEach((key, i) => {
      if (seen.has(key.id)) ctx.addIssue({ code: 'custom', path: ['keys', i, 'id'], message: `duplicate key id "${key.id}"` });
      seen.add(key.id);
      const allowed = ALGORITHMS_BY_PURPOSE[key.purpose];
      if (!allowed.includes(key.algorithm)) {
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i, 'algorithm'],
          message: `a ${key.purpose} key must use one of ${allowed.join(', ')}`,
        });
      }
      if (!(key.backend in config.backends)) {
        const names = Object.keys(config.backends);
        ctx.addIssue({
          code: 'custom',
          path: ['keys', i, 'backend'],
          message: `no backend named "${key.backend}" (configured: ${names.length > 0 ? names.join(', ') : 'none'})`,
        });
      }
    });
    if ((config.server.admin_socket.mode & 0o007) !== 0) {
      ctx.addIssue({ code: 'custom', path: ['server', 'admin_socket', 'mode'], message: 'must not grant access to others (e.g. "0600" or "0660")' });
    }
    if (resolve(config.server.data_socket.path) === resolve(config.server.admin_socket.path)) {
      ctx.addIssue({ code: 'custom', path: ['server', 'admin_socket', 'path'], message: 'must differ from the data socket path' });
    }
  });

/** The validated configuration (snake_case as in the file). Deeply frozen once loaded. */
export type Config = z.output<typeof configSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type LocalBackendConfig = z.output<typeof localBackendSchema>;
export type VaultBackendConfig = z.output<typeof vaultBackendSchema>;
export type Pkcs11BackendConfig = z.output<typeof pkcs11BackendSchema>;
export type KeyConfig = z.output<typeof keySchema>;
export type SecretRef = z.output<typeof secretRefSchema>;
export type AuthorizationSettings = Config['authorization'];
