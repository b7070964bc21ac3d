// The configuration schema: every field, its default and its limits, in one place
// (docs/configuration.md documents the same fields). Unknown keys are errors, and no
// field holds a secret inline: secrets are named by file or environment variable.
import { resolve } from 'node:path';
import { z } from 'zod';
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

const localBackendSchema = z.strictObject({
  type: z.literal('local'),
  /** Directory of wrapped key versions; created 0700 if missing. */
  keystore_dir: z.string().min(1),
  /** The root key file (created 0600 on first start). Default: <keystore_dir>/root.key. */
  root_key_file: z.string().min(1).optional(),
});

const backendSchema = z.discriminatedUnion('type', [localBackendSchema]);

const keySchema = z.strictObject({
  id: z.string().regex(KEY_ID_PATTERN, 'expected 1-128 characters of A-Z a-z 0-9 . _ - starting with a letter or digit'),
  purpose: z.enum(['encrypt', 'sign', 'mac']),
  algorithm: z.enum(['aes-256-gcm', 'ed25519', 'ecdsa-p256', 'rsa-4096', 'hmac-sha256']),
  /** The name of an entry of `backends`. */
  backend: z.string().min(1),
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
    if (resolve(config.server.data_socket.path) === resolve(config.server.admin_socket.path)) {
      ctx.addIssue({ code: 'custom', path: ['server', 'admin_socket', 'path'], message: 'must differ from the data socket path' });
    }
  });

/** The validated configuration (snake_case as in the file). Deeply frozen once loaded. */
export type Config = z.output<typeof configSchema>;
export type BackendConfig = z.output<typeof backendSchema>;
export type LocalBackendConfig = z.output<typeof localBackendSchema>;
export type KeyConfig = z.output<typeof keySchema>;
export type SecretRef = z.output<typeof secretRefSchema>;
