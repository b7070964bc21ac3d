// Tests of chain verification (src/audit/verify-audit-chain.ts) on a chain the real sink
// wrote across several rotated files: the intact chain verifies, and each tampering —
// an edited field, a deleted line, two swapped lines, a file cut mid-line or at a line
// boundary, a missing or misplaced file — is reported at the right file and line. A cut
// at a line boundary of the last file is invisible to the chain alone; an anchor shows it.
import test from 'ava';
import { readFile, truncate, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AUDIT_GENESIS_PREV } from '../../src/audit/audit-record.js';
import { verifyAuditChain, type AuditChainVerdict } from '../../src/audit/verify-audit-chain.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { editLines, readLines, tempDir, writeChain } from './audit-test-files.js';

const RECORDS = 70;

async function chain(t: Parameters<typeof tempDir>[0]) {
  const made = await writeChain(await tempDir(t), RECORDS);
  t.true(made.files.length >= 4, `the chain spans ${made.files.length} files`);
  return made;
}

function broken(verdict: AuditChainVerdict): { file: string; line: number; reason: string } {
  if (verdict.ok) throw new Error(`expected a broken chain, got ok with ${verdict.records} records`);
  return { file: verdict.file, line: verdict.line, reason: verdict.reason };
}

test('an intact chain across rotated files verifies', async (t) => {
  const { files, head } = await chain(t);
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: RECORDS, files: files.length, head });
  t.deepEqual(await verifyAuditChain(files, { anchor: head }), { ok: true, records: RECORDS, files: files.length, head });
});

test('an edited field is caught at the next record, whose prev no longer matches', async (t) => {
  const { files } = await chain(t);
  const file = files[1]!;
  await editLines(file, (lines) => {
    lines[2] = lines[2]!.replace('"outcome":"ok"', '"outcome":"denied"');
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.is(b.file, file);
  t.is(b.line, 4);
  t.regex(b.reason, new RegExp(`prev does not match the SHA-256 of the previous record \\(${file.replace(/[.]/g, '\\.')}:3\\)`));
});

test('an edit of the last line of a file is caught at the first line of the next file', async (t) => {
  const { files } = await chain(t);
  await editLines(files[0]!, (lines) => {
    lines[lines.length - 1] = lines.at(-1)!.replace('"key_version":3', '"key_version":4');
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[1]!, 1]);
  t.regex(b.reason, /prev does not match/);
});

test('a line that is no longer JSON is caught at that line', async (t) => {
  const { files } = await chain(t);
  await editLines(files[2]!, (lines) => {
    lines[4] = lines[4]!.slice(0, -1);
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[2]!, 5]);
  t.regex(b.reason, /^bad JSON/);
});

test('a deleted line is caught where it is missing', async (t) => {
  const { files } = await chain(t);
  await editLines(files[1]!, (lines) => {
    lines.splice(4, 1);
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[1]!, 5]);
  t.regex(b.reason, /^seq gap: expected \d+, found \d+/);
});

test('two swapped lines are caught at the first of them', async (t) => {
  const { files } = await chain(t);
  await editLines(files[2]!, (lines) => {
    [lines[6], lines[7]] = [lines[7]!, lines[6]!];
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[2]!, 7]);
  t.regex(b.reason, /^seq gap: expected (\d+), found \d+ \(records were removed or reordered\)/);
});

test('two swapped lines with a renumbered seq are caught by prev', async (t) => {
  const { files } = await chain(t);
  await editLines(files[1]!, (lines) => {
    const a = JSON.parse(lines[2]!) as Record<string, unknown>;
    const b = JSON.parse(lines[3]!) as Record<string, unknown>;
    [a['seq'], b['seq']] = [b['seq'], a['seq']];
    lines[2] = JSON.stringify(b);
    lines[3] = JSON.stringify(a);
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[1]!, 3]);
  t.regex(b.reason, /prev does not match/);
});

test('a middle file cut mid-line is caught at its last, unterminated line', async (t) => {
  const { files } = await chain(t);
  const file = files[1]!;
  const { lines } = await readLines(file);
  await truncate(file, (await readFile(file)).byteLength - 30);
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [file, lines.length]);
  t.is(b.reason, 'truncated: the last line has no terminating newline');
});

test('the last file cut mid-line is caught at its last line', async (t) => {
  const { files } = await chain(t);
  const file = files.at(-1)!;
  const { lines } = await readLines(file);
  t.true(lines.length >= 2);
  await truncate(file, (await readFile(file)).byteLength - 1);
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [file, lines.length]);
  t.regex(b.reason, /^truncated/);
});

test('a middle file cut at a line boundary is caught at the start of the next file', async (t) => {
  const { files } = await chain(t);
  await editLines(files[1]!, (lines) => lines.slice(0, -2));
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[2]!, 1]);
  t.regex(b.reason, /^seq gap: expected \d+, found \d+ at the start of this file/);
});

test('the last file cut at a line boundary: invisible to the chain alone, caught with an anchor', async (t) => {
  const { files, head } = await chain(t);
  const last = files.at(-1)!;
  await editLines(last, (lines) => lines.slice(0, -2));
  const remaining = (await readLines(last)).lines.length;
  // What the files alone can prove: a well-formed chain of the records that are left.
  const alone = await verifyAuditChain(files);
  t.like(alone, { ok: true, records: RECORDS - 2 });
  // With the head recorded earlier elsewhere, the missing tail shows.
  const b = broken(await verifyAuditChain(files, { anchor: head }));
  t.deepEqual([b.file, b.line], [last, remaining + 1]);
  t.is(b.reason, `the chain ends at seq ${RECORDS - 2}, before the anchored record seq ${RECORDS}: records were removed from the end`);
});

test('an edit of the very last record: invisible to the chain alone, caught with an anchor', async (t) => {
  const { files, head } = await chain(t);
  const last = files.at(-1)!;
  await editLines(last, (lines) => {
    lines[lines.length - 1] = lines.at(-1)!.replace('"outcome":"ok"', '"outcome":"nope"');
    return lines;
  });
  t.like(await verifyAuditChain(files), { ok: true, records: RECORDS });
  const b = broken(await verifyAuditChain(files, { anchor: head }));
  t.deepEqual([b.file, b.line], [last, (await readLines(last)).lines.length]);
  t.regex(b.reason, /does not match the anchor's hash/);
});

test('a removed middle file is caught at the start of the file after it', async (t) => {
  const { files } = await chain(t);
  await unlink(files[1]!);
  const remaining = files.filter((_, i) => i !== 1);
  const b = broken(await verifyAuditChain(remaining));
  t.deepEqual([b.file, b.line], [files[2]!, 1]);
  t.regex(b.reason, /a file, or records at the end of the previous one, are missing/);
});

test('a removed first file is caught: the chain does not start at seq 1', async (t) => {
  const { files } = await chain(t);
  const b = broken(await verifyAuditChain(files.slice(1)));
  t.deepEqual([b.file, b.line], [files[1]!, 1]);
  t.regex(b.reason, /the chain does not start at seq 1/);
});

test('files listed out of order are reported as such', async (t) => {
  const { files } = await chain(t);
  const swapped = [files[0]!, files[2]!, files[1]!, ...files.slice(3)];
  const b = broken(await verifyAuditChain(swapped));
  t.deepEqual([b.file, b.line], [files[2]!, 1]);
  t.regex(b.reason, new RegExp(`^file out of order: .* at the start of ${files[1]!.replace(/[.]/g, '\\.')}, which is listed after this file`));
  // A file listed twice.
  const twice = broken(await verifyAuditChain([files[0]!, files[0]!]));
  t.deepEqual([twice.file, twice.line], [files[0]!, 1]);
  t.regex(twice.reason, /seq out of order/);
});

test('a first record whose prev is not the genesis value is caught', async (t) => {
  const { files } = await chain(t);
  await editLines(files[0]!, (lines) => {
    lines[0] = lines[0]!.replace(AUDIT_GENESIS_PREV, 'f'.repeat(64));
    return lines;
  });
  const b = broken(await verifyAuditChain(files));
  t.deepEqual([b.file, b.line], [files[0]!, 1]);
  t.regex(b.reason, /genesis/);
});

test('an empty line, a non-object and a record without seq are each caught at their line', async (t) => {
  const dir = await tempDir(t);
  const { files } = await writeChain(dir, 5);
  const file = files[0]!;
  const original = await readFile(file, 'utf8');
  const variants: [string, RegExp][] = [
    ['', /^empty line$/],
    ['[1,2]', /not a JSON object/],
    ['{"time":"2026-01-01T00:00:00Z","prev":"' + '0'.repeat(64) + '"}', /"seq" is missing/],
  ];
  for (const [line, reason] of variants) {
    const lines = original.split('\n');
    lines.splice(2, 0, line);
    await writeFile(file, lines.join('\n'));
    const b = broken(await verifyAuditChain(files));
    t.deepEqual([b.file, b.line], [file, 3]);
    t.regex(b.reason, reason);
  }
});

test('no files, or a file that cannot be read, is an error rather than a verdict', async (t) => {
  t.true(isKeywardError(await t.throwsAsync(verifyAuditChain([])), 'invalid-argument'));
  const dir = await tempDir(t);
  const err = await t.throwsAsync(verifyAuditChain([join(dir, 'missing.log')]));
  t.true(isKeywardError(err, 'not-found'));
  t.regex(err!.message, /missing\.log/);
});

test('empty files verify as zero records (a fresh active file after a rotation)', async (t) => {
  const dir = await tempDir(t);
  const empty = join(dir, 'audit.log');
  await writeFile(empty, '');
  t.like(await verifyAuditChain([empty]), { ok: true, records: 0, files: 1, head: { seq: 0, hash: AUDIT_GENESIS_PREV } });
});
