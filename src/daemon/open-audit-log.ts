// Opens the local audit log (docs/audit.md) as the daemon and offline recovery do: its
// directory created 0700 if missing, the chain resumed where it stands.
import { mkdir } from 'node:fs/promises';
import { dirname } from 'node:path';
import { AuditLog } from '../audit/audit-log.js';
import type { AuditLogConfig } from '../audit/audit-log-config.js';
import type { Logger } from '../core/logger.js';

export async function openAuditLog(config: AuditLogConfig, log: Logger): Promise<AuditLog> {
  await mkdir(dirname(config.path), { recursive: true, mode: 0o700 });
  return AuditLog.open(config, { logger: log.child({ sink: 'audit-log' }) });
}
