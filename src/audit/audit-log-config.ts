// The configuration of the local audit log sink, as a zod fragment the main schema
// (config/config-schema.ts) embeds, e.g. `audit: z.strictObject({ log: auditLogConfigSchema.optional() })`.
// Field names are snake_case like the rest of the file; docs/audit.md explains each.
import { z } from 'zod';

const MiB = 1024 * 1024;

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** How the sink makes records durable (docs/audit.md, "fsync policies"). */
export const AUDIT_FSYNC_POLICIES = ['every-record', 'interval', 'never'] as const;
export type AuditFsyncPolicy = (typeof AUDIT_FSYNC_POLICIES)[number];

export const auditLogConfigSchema = z.strictObject({
  /** The active file. Rotated files sit beside it as `<path>.000001`, `<path>.000002` … */
  path: z.string().min(1),
  /**
   * every-record: no append resolves before its record is on stable storage (records
   * written together share one fsync); interval: fsync at most every fsync_interval_ms,
   * at most that long after a write; never: the OS decides (rotation and close still fsync).
   */
  fsync: z.enum(AUDIT_FSYNC_POLICIES).default('interval'),
  fsync_interval_ms: int(1, 60_000).default(1_000),
  /** A file is rotated before the next line would take it past this size. */
  max_file_bytes: int(4_096, 2 ** 40).default(64 * MiB),
});

/** The validated sink configuration (snake_case as in the file). */
export type AuditLogConfig = z.output<typeof auditLogConfigSchema>;
