// Names of an audit log's files: the active file `<path>` and the rotated ones
// `<path>.000001`, `<path>.000002` … — zero-padded, so a shell glob `<path>.*` lists them
// oldest first and `keyward audit verify <path>.* <path>` checks the whole chain in order.
import { basename, dirname, join } from 'node:path';
import type { AuditLogFs } from './audit-log-fs.js';

const SUFFIX_DIGITS = 6;

/** The name a file gets when it is rotated as the `index`-th file (1, 2, …). */
export function rotatedAuditFileName(activePath: string, index: number): string {
  return `${activePath}.${String(index).padStart(SUFFIX_DIGITS, '0')}`;
}

/** The rotated files beside `activePath`, oldest (lowest index) first. */
export async function listRotatedAuditFiles(fs: AuditLogFs, activePath: string): Promise<{ path: string; index: number }[]> {
  const dir = dirname(activePath);
  const prefix = `${basename(activePath)}.`;
  const found: { path: string; index: number }[] = [];
  for (const name of await fs.readdir(dir)) {
    if (!name.startsWith(prefix)) continue;
    const suffix = name.slice(prefix.length);
    if (!/^\d{6,}$/.test(suffix)) continue;
    found.push({ path: join(dir, name), index: Number(suffix) });
  }
  return found.sort((a, b) => a.index - b.index);
}
