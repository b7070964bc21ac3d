// Tests of `keyward audit verify` (src/cli/audit-command.ts) as a user runs it: a child
// process, its stdout, stderr and exit code. Until main.ts registers the command, the
// child runs the test-only entry audit-cli-entry.ts, which registers it the same way.
import test from 'ava';
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { editLines, readLines, tempDir, writeChain } from './audit-test-files.js';

const ENTRY = fileURLToPath(new URL('./audit-cli-entry.js', import.meta.url));

function run(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [ENTRY, ...args], { timeout: 30_000 }, (err, stdout, stderr) => {
      const code = err === null ? 0 : typeof err.code === 'number' ? err.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

test('an intact chain: "ok: N records in M files", exit 0', async (t) => {
  const { files, head } = await writeChain(await tempDir(t), 50);
  const res = await run(['audit', 'verify', ...files]);
  t.is(res.code, 0, res.stderr);
  t.is(res.stdout, `ok: 50 records in ${files.length} files\n`);
  const withHead = await run(['audit', 'verify', '--show-head', '--anchor', `${head.seq}:${head.hash}`, ...files]);
  t.is(withHead.code, 0, withHead.stderr);
  t.is(withHead.stdout, `ok: 50 records in ${files.length} files\nhead: ${head.seq}:${head.hash}\n`);
});

test('a tampered chain: "broken: <file>:<line>: <reason>", exit 1', async (t) => {
  const { files } = await writeChain(await tempDir(t), 50);
  await editLines(files[1]!, (lines) => {
    lines.splice(2, 1);
    return lines;
  });
  const res = await run(['audit', 'verify', ...files]);
  t.is(res.code, 1);
  t.regex(res.stdout, new RegExp(`^broken: ${files[1]!.replace(/[.]/g, '\\.')}:3: seq gap: expected \\d+, found \\d+`));
  t.is(res.stdout.split('\n').length, 2, 'one line');
});

test('a tail cut at a line boundary: exit 0 alone, exit 1 against the anchor', async (t) => {
  const { files, head } = await writeChain(await tempDir(t), 50);
  await editLines(files.at(-1)!, (lines) => lines.slice(0, -1));
  t.is((await run(['audit', 'verify', ...files])).code, 0);
  const res = await run(['audit', 'verify', '--anchor', `${head.seq}:${head.hash}`, ...files]);
  t.is(res.code, 1);
  t.is(res.stdout, `broken: ${files.at(-1)}:${(await readLines(files.at(-1)!)).lines.length + 1}: the chain ends at seq 49, before the anchored record seq 50: records were removed from the end\n`);
});

test('a file that cannot be read exits 2; no file or a bad anchor is a usage error', async (t) => {
  const dir = await tempDir(t);
  const missing = await run(['audit', 'verify', join(dir, 'nope.log')]);
  t.is(missing.code, 2);
  t.is(missing.stdout, '');
  t.regex(missing.stderr, /^keyward audit verify: cannot read .*nope\.log/);
  const none = await run(['audit', 'verify']);
  t.is(none.code, 1);
  t.regex(none.stderr, /missing required argument/);
  const badAnchor = await run(['audit', 'verify', '--anchor', '12:abc', join(dir, 'x')]);
  t.is(badAnchor.code, 1);
  t.regex(badAnchor.stderr, /expected <seq>:<sha256 hex>/);
});
