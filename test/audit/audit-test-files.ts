// Helpers of the audit tests: a temporary directory per test, a chain written by the
// real sink across several rotated files, and line-level edits of those files (the
// tampering an attacker with write access to the files could do).
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ExecutionContext } from 'ava';
import { auditLogConfigSchema, type AuditLogConfig } from '../../src/audit/audit-log-config.js';
import { listRotatedAuditFiles } from '../../src/audit/audit-log-files.js';
import { nodeAuditLogFs } from '../../src/audit/audit-log-fs.js';
import { AuditLog, type AuditLogOptions } from '../../src/audit/audit-log.js';
import type { AuditChainHead } from '../../src/audit/audit-record.js';

/** A fresh directory, removed when the test ends. */
export async function tempDir(t: ExecutionContext): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'keyward-audit-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** A sink config with the schema's defaults for what is not given. */
export function auditConfig(path: string, overrides: Partial<AuditLogConfig> = {}): AuditLogConfig {
  return auditLogConfigSchema.parse({ path, fsync: 'never', ...overrides });
}

/** The chain's files oldest first: rotated ones by suffix, then the active file. */
export async function chainFiles(activePath: string): Promise<string[]> {
  return [...(await listRotatedAuditFiles(nodeAuditLogFs, activePath)).map((f) => f.path), activePath];
}

/** A recognisable event; `i` makes every record distinct. */
export function sampleEvent(i: number): Record<string, unknown> {
  return {
    event: 'key.operation',
    operation: 'Encrypt',
    key_id: 'payments-db',
    key_version: 3,
    outcome: 'ok',
    actor: { uid: 1000, gid: 1000, pid: 4242 },
    i,
  };
}

/**
 * Writes `records` records with max_file_bytes 4096 (about 15 records a file), closes,
 * and returns the files in chain order and the final head.
 */
export async function writeChain(
  dir: string,
  records: number,
  options: AuditLogOptions = {},
): Promise<{ path: string; files: string[]; head: AuditChainHead }> {
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }), options);
  for (let i = 0; i < records; i++) await log.append(sampleEvent(i));
  await log.close();
  return { path, files: await chainFiles(path), head: log.head };
}

/** The lines of a file, each without its "\n"; `trailing` is what follows the last "\n". */
export async function readLines(file: string): Promise<{ lines: string[]; trailing: string }> {
  const text = await readFile(file, 'utf8');
  const parts = text.split('\n');
  const trailing = parts.pop() ?? '';
  return { lines: parts, trailing };
}

/** Rewrites a file from lines (each gets its "\n") and an optional unterminated tail. */
export async function writeLines(file: string, lines: readonly string[], trailing = ''): Promise<void> {
  await writeFile(file, lines.map((l) => `${l}\n`).join('') + trailing);
}

/** Applies `edit` to the lines of `file` (1-based line numbers in the callers' terms). */
export async function editLines(file: string, edit: (lines: string[]) => string[]): Promise<void> {
  const { lines, trailing } = await readLines(file);
  await writeLines(file, edit([...lines]), trailing);
}
