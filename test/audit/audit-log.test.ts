// Tests of the audit log sink (src/audit/audit-log.ts): the record format and its chain
// from the genesis value, refusal of non-metadata events, serialized concurrent appends,
// rotation that carries the chain, resuming after a restart (and refusing a damaged
// tail), the failure and close behaviour, the byte-exact line format (non-ASCII lines
// included), and appendMembers, the call path's append without a promise.
import test from 'ava';
import { createHash } from 'node:crypto';
import { link, readFile, rename, stat, truncate, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { listRotatedAuditFiles } from '../../src/audit/audit-log-files.js';
import { nodeAuditLogFs } from '../../src/audit/audit-log-fs.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { AUDIT_GENESIS_PREV } from '../../src/audit/audit-record.js';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import { SecretBytes } from '../../src/core/secret-bytes.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { silentLogger } from '../../src/core/logger.js';
import { sleep } from '../support/deferred.js';
import { auditConfig, chainFiles, readLines, sampleEvent, tempDir, writeChain } from './audit-test-files.js';
import { SpyAuditLogFs } from './spy-audit-log-fs.js';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

test('records are JSON lines: seq, time, prev, then the event, chained from the genesis value', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  let now = Date.parse('2026-01-02T03:04:05.006Z');
  const log = await AuditLog.open(auditConfig(path), { clock: () => new Date((now += 1000)) });
  const heads = [];
  for (let i = 0; i < 3; i++) heads.push(await log.append(sampleEvent(i)));
  await log.close();

  const { lines, trailing } = await readLines(path);
  t.is(trailing, '', 'the file ends with a newline');
  t.is(lines.length, 3);
  const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.deepEqual(Object.keys(records[0]!).slice(0, 3), ['seq', 'time', 'prev'], 'seq, time and prev lead every line');
  t.deepEqual(
    records.map((r) => r['seq']),
    [1, 2, 3],
  );
  t.deepEqual(
    records.map((r) => r['time']),
    ['2026-01-02T03:04:06.006Z', '2026-01-02T03:04:07.006Z', '2026-01-02T03:04:08.006Z'],
  );
  t.is(records[0]!['prev'], AUDIT_GENESIS_PREV);
  t.is(AUDIT_GENESIS_PREV, '0'.repeat(64));
  // prev is the SHA-256 of the previous line's exact bytes, its "\n" included.
  t.is(records[1]!['prev'], sha256(`${lines[0]}\n`));
  t.is(records[2]!['prev'], sha256(`${lines[1]}\n`));
  t.deepEqual({ ...records[2]!, seq: undefined, time: undefined, prev: undefined }, { ...sampleEvent(2), seq: undefined, time: undefined, prev: undefined });
  t.deepEqual(
    heads.map((h) => h.seq),
    [1, 2, 3],
  );
  t.is(heads[2]!.hash, sha256(`${lines[2]}\n`));
  t.deepEqual(log.head, heads[2]);
});

test('an event may not set seq, time or prev, and may not carry bytes', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  t.teardown(() => log.close());
  const bad: Record<string, unknown>[] = [
    { seq: 7 },
    { time: 'yesterday' },
    { prev: AUDIT_GENESIS_PREV },
    { key: Buffer.from('key material') },
    { nested: { plaintext: new Uint8Array([1, 2, 3]) } },
    { list: [1, new Float64Array(2)] },
    { dek: SecretBytes.random(32) },
    { raw: new ArrayBuffer(4) },
  ];
  for (const event of bad) {
    const err = await t.throwsAsync(log.append(event));
    t.true(isKeywardError(err, 'invalid-argument'), `${Object.keys(event)[0]} is refused as invalid-argument`);
  }
  t.regex((await t.throwsAsync(log.append({ key: Buffer.from('x') })))!.message, /metadata only/);
  // Refused events take no seq: the chain starts at 1 with the next good one.
  t.is((await log.append({ event: 'ok', big: 2n ** 70n })).seq, 1);
  const [line] = (await readLines(path)).lines;
  t.is((JSON.parse(line!) as { big: unknown }).big, '1180591620717411303424', 'a bigint is written as its decimal string');
});

test('field values with newlines and separators stay on one line', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  await log.append({ reason: 'line one\nline two\r\u2028\u2029\u0000', key_id: 'k\n{"seq":99}' });
  await log.append({ event: 'after' });
  await log.close();
  const { lines } = await readLines(path);
  t.is(lines.length, 2);
  t.is((JSON.parse(lines[0]!) as { reason: string }).reason, 'line one\nline two\r\u2028\u2029\u0000');
  t.true((await verifyAuditChain([path])).ok);
});

test('1,000 concurrent appends (Promise.all) form one valid chain in call order', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 16 * 1024, fsync: 'every-record' }));
  const heads = await Promise.all(Array.from({ length: 1000 }, (_, i) => log.append(sampleEvent(i))));
  await log.close();
  t.deepEqual(
    heads.map((h) => h.seq),
    Array.from({ length: 1000 }, (_, i) => i + 1),
    'seq follows the order of the calls',
  );
  const files = await chainFiles(path);
  t.true(files.length > 5, `rotated under load (${files.length} files)`);
  const verdict = await verifyAuditChain(files);
  t.deepEqual(verdict, { ok: true, records: 1000, files: files.length, head: heads[999]! });
  // Every line is a whole record, and record i holds event i.
  let seq = 0;
  for (const file of files) {
    for (const line of (await readLines(file)).lines) {
      const record = JSON.parse(line) as { seq: number; i: number };
      seq += 1;
      t.is(record.seq, seq);
      if (record.i !== seq - 1) t.fail(`record ${seq} holds event ${record.i}`);
    }
  }
});

test('rotation: files stay within max_file_bytes, take .NNNNNN suffixes, and the chain carries across them', async (t) => {
  const dir = await tempDir(t);
  const { path, files, head } = await writeChain(dir, 70);
  const rotated = await listRotatedAuditFiles(nodeAuditLogFs, path);
  t.true(rotated.length >= 3, `${rotated.length} rotated files`);
  t.deepEqual(
    rotated.map((f) => f.path),
    rotated.map((_, i) => `${path}.${String(i + 1).padStart(6, '0')}`),
  );
  for (const file of files) t.true((await stat(file)).size <= 4096, `${file} is within 4096 bytes`);
  for (let i = 1; i < files.length; i++) {
    const before = (await readLines(files[i - 1]!)).lines.at(-1)!;
    const first = JSON.parse((await readLines(files[i]!)).lines[0]!) as { prev: string };
    t.is(first.prev, sha256(`${before}\n`), `the first record of ${files[i]} links to the last of ${files[i - 1]}`);
  }
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: 70, files: files.length, head });
});

test('a record larger than max_file_bytes still goes in, alone in a fresh file', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }));
  await log.append({ i: 0 });
  await log.append({ note: 'x'.repeat(6000) });
  await log.append({ i: 2 });
  await log.close();
  const files = await chainFiles(path);
  t.is(files.length, 3);
  t.is((await readLines(files[1]!)).lines.length, 1);
  t.true((await verifyAuditChain(files)).ok);
});

test('resume after a restart continues seq and prev, also when the active file is gone after a rotation', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const first = await writeChain(dir, 20);
  // Files that only look like rotated ones are not part of the chain.
  await writeFile(`${path}.damaged-2026-01-01`, 'garbage');
  await writeFile(`${path}.12`, 'garbage');
  await writeFile(`${path}.000099.bak`, 'garbage');
  const again = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }));
  t.deepEqual(again.head, first.head, 'the head is read back from the last line');
  t.is((await again.append(sampleEvent(20))).seq, 21);
  await again.close();
  t.deepEqual(await verifyAuditChain(await chainFiles(path)), { ok: true, records: 21, files: (await chainFiles(path)).length, head: again.head });

  // A crash after the rename of a rotation, before the new file: only rotated files remain.
  const rotated = await listRotatedAuditFiles(nodeAuditLogFs, path);
  await rename(path, `${path}.${String(rotated.length + 1).padStart(6, '0')}`);
  const third = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }));
  t.is((await third.append(sampleEvent(21))).seq, 22);
  await third.close();
  const files = await chainFiles(path);
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: 22, files: files.length, head: third.head });
});

test('resume finishes a rotation cut off between link and unlink', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  await writeChain(dir, 20);
  const rotated = await listRotatedAuditFiles(nodeAuditLogFs, path);
  await link(path, `${path}.${String(rotated.length + 1).padStart(6, '0')}`);
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }));
  t.is((await log.append(sampleEvent(20))).seq, 21);
  await log.close();
  const files = await chainFiles(path);
  t.is(files.length, rotated.length + 2);
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: 21, files: files.length, head: log.head });
});

test('refuses to resume a file whose last line is truncated or corrupt, and says so', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  for (let i = 0; i < 3; i++) await log.append(sampleEvent(i));
  await log.close();
  const good = await readFile(path);

  const cases: [string, Buffer | number, RegExp][] = [
    ['no final newline', good.byteLength - 1, /last line is truncated \(the file does not end with a newline\)/],
    ['cut mid-line', good.byteLength - 40, /last line is truncated/],
    ['garbage last line', Buffer.concat([good, Buffer.from('{"seq":4,"time":"2026\n')]), /last line is corrupt: bad JSON/],
    ['record without prev', Buffer.concat([good, Buffer.from('{"seq":4,"time":"2026-01-01T00:00:00Z"}\n')]), /last line is corrupt: bad record: "prev"/],
  ];
  for (const [name, damage, message] of cases) {
    await writeFile(path, good);
    if (typeof damage === 'number') await truncate(path, damage);
    else await writeFile(path, damage);
    const before = await readFile(path);
    const err = await t.throwsAsync(AuditLog.open(auditConfig(path)), undefined, name);
    t.true(isKeywardError(err, 'failed-precondition'), name);
    t.regex(err!.message, message, name);
    t.regex(err!.message, /refusing to append/, name);
    t.deepEqual(await readFile(path), before, `${name}: the file is left as it was`);
  }
  // The newest rotated file is checked the same way when the active file is empty.
  await writeFile(path, good.subarray(0, good.byteLength - 1));
  await rename(path, `${path}.000001`);
  await writeFile(path, '');
  t.regex((await t.throwsAsync(AuditLog.open(auditConfig(path))))!.message, /audit\.log\.000001: the last line is truncated/);
});

test('a failed write fails the log for good: that append and every later one are refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const fs = new SpyAuditLogFs();
  const log = await AuditLog.open(auditConfig(path), { fs });
  await log.append(sampleEvent(0));
  fs.failAppendNumber = 2;
  const err = await t.throwsAsync(log.append(sampleEvent(1)));
  t.true(isKeywardError(err, 'unavailable'));
  t.regex(err!.message, /a write failed \(ENOSPC/);
  t.true(isKeywardError(await t.throwsAsync(log.append(sampleEvent(2))), 'unavailable'));
  await log.close();
  t.deepEqual(log.head.seq, 1, 'the head stays at the last record written');
  t.true((await verifyAuditChain([path])).ok);
});

test('close writes what is queued, then refuses appends', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { fsync: 'interval', fsync_interval_ms: 60_000 }));
  const pending = Array.from({ length: 100 }, (_, i) => log.append(sampleEvent(i)));
  await log.close();
  t.is((await Promise.all(pending)).length, 100);
  t.is((await readLines(path)).lines.length, 100);
  t.true(isKeywardError(await t.throwsAsync(log.append(sampleEvent(100))), 'failed-precondition'));
  await log.close(); // idempotent
});

test('the files are created 0600', async (t) => {
  const dir = await tempDir(t);
  const { files } = await writeChain(dir, 20);
  for (const file of files) t.is((await stat(file)).mode & 0o777, 0o600, file);
});

test('the line format, byte for byte: seq, time, prev, then the members; an empty event closes after prev', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path), { clock: () => new Date('2026-03-01T09:30:12.345Z') });
  await log.append({ event: 'key.operation', operation: 'Encrypt', key_version: 3, cache_hit: false, ratio: 0.5 });
  t.is(log.appendMembers('"event":"key.operation","outcome":"ok"'), undefined);
  await log.append({});
  await log.close();
  const bytes = await readFile(path);
  const [first, second] = bytes.toString('utf8').split('\n');
  t.is(
    bytes.toString('utf8'),
    `{"seq":1,"time":"2026-03-01T09:30:12.345Z","prev":"${'0'.repeat(64)}","event":"key.operation","operation":"Encrypt","key_version":3,"cache_hit":false,"ratio":0.5}\n` +
      `{"seq":2,"time":"2026-03-01T09:30:12.345Z","prev":"${sha256(`${first}\n`)}","event":"key.operation","outcome":"ok"}\n` +
      `{"seq":3,"time":"2026-03-01T09:30:12.345Z","prev":"${sha256(`${second}\n`)}"}\n`,
  );
  t.true((await verifyAuditChain([path])).ok);
});

test('prev covers the exact UTF-8 bytes of a line with non-ASCII characters', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  const reason = 'é ü ß (one byte in V8) € 漢字 🔑 (two bytes) \u2028';
  const first = await log.append({ event: 'key.operation', reason });
  log.appendMembers(`"event":"key.operation","reason":${JSON.stringify(`${reason} again`)}`);
  const third = await log.append({ event: 'after' });
  await log.close();
  const bytes = await readFile(path);
  const lines: Buffer[] = [];
  for (let start = 0; start < bytes.byteLength; ) {
    const end = bytes.indexOf(0x0a, start) + 1;
    lines.push(bytes.subarray(start, end));
    start = end;
  }
  t.is(lines.length, 3);
  const hashOf = (line: Buffer) => createHash('sha256').update(line).digest('hex');
  t.true(lines[0]!.byteLength > lines[0]!.toString('utf8').length, 'the line holds multi-byte characters');
  t.is(first.hash, hashOf(lines[0]!), "append's hash is the SHA-256 of the line's bytes in the file");
  t.is((JSON.parse(lines[1]!.toString('utf8')) as { prev: string }).prev, hashOf(lines[0]!));
  t.is((JSON.parse(lines[2]!.toString('utf8')) as { prev: string }).prev, hashOf(lines[1]!));
  t.is((JSON.parse(lines[1]!.toString('utf8')) as { reason: string }).reason, `${reason} again`);
  t.deepEqual(log.head, third);
  t.deepEqual(await verifyAuditChain([path]), { ok: true, records: 3, files: 1, head: third });
});

test('appendMembers queues without a promise, in call order with append, and returns its refusals', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 4096 }));
  const waiting: Promise<{ seq: number }>[] = [];
  for (let i = 0; i < 60; i++) {
    if (i % 7 === 0) waiting.push(log.append(sampleEvent(i)));
    else t.is(log.appendMembers(`"event":"key.operation","i":${i}`), undefined);
  }
  t.deepEqual(
    (await Promise.all(waiting)).map((h) => h.seq),
    [1, 8, 15, 22, 29, 36, 43, 50, 57],
  );
  const tooLarge = log.appendMembers(`"note":"${'x'.repeat(1024 * 1024)}"`);
  t.true(isKeywardError(tooLarge, 'invalid-argument'));
  await log.close();
  const closed = log.appendMembers('"event":"late"');
  t.true(isKeywardError(closed, 'failed-precondition'));
  t.is(log.appendMembers('"event":"later"'), closed, 'the same refusal each time');
  const files = await chainFiles(path);
  t.true(files.length > 2);
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: 60, files: files.length, head: log.head });
  const order = [];
  for (const file of files) for (const line of (await readLines(file)).lines) order.push((JSON.parse(line) as { i: number }).i);
  t.deepEqual(
    order,
    Array.from({ length: 60 }, (_, i) => i),
  );
});

test('more records than one write takes, with appends waiting on both sides of the cut, and rotations', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { max_file_bytes: 256 * 1024, fsync: 'every-record' }));
  const waiting: Promise<{ seq: number; hash: string }>[] = [];
  for (let i = 0; i < 10_000; i++) {
    if (i % 1000 === 999 || i === 4095 || i === 4096) waiting.push(log.append(sampleEvent(i)));
    else log.appendMembers(`"event":"key.operation","i":${i}`);
  }
  const heads = await Promise.all(waiting);
  t.deepEqual(
    heads.map((h) => h.seq),
    [1000, 2000, 3000, 4000, 4096, 4097, 5000, 6000, 7000, 8000, 9000, 10000],
  );
  await log.close();
  const files = await chainFiles(path);
  t.true(files.length > 3, `${files.length} files`);
  t.deepEqual(await verifyAuditChain(files), { ok: true, records: 10_000, files: files.length, head: heads.at(-1)! });
  const lines = (await Promise.all(files.map(readLines))).flatMap((f) => f.lines);
  for (const head of heads) t.is(sha256(`${lines[head.seq - 1]}\n`), head.hash, `record ${head.seq}`);
});

test('a record is refused when its UTF-8 bytes exceed the line limit, even if its characters do not', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  t.teardown(() => log.close());
  const euros = '€'.repeat(400_000); // 400 000 characters, 1 200 000 bytes
  t.true(isKeywardError(await t.throwsAsync(log.append({ note: euros })), 'invalid-argument'));
  t.true(isKeywardError(log.appendMembers(`"note":"${euros}"`), 'invalid-argument'));
  t.is((await log.append({ note: '€'.repeat(300_000) })).seq, 1, 'a record within the limit goes in, as seq 1');
});

test('a failed write drops what appendMembers queued; the log reports it once and refuses the rest with the same error', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const fs = new SpyAuditLogFs();
  const errors: unknown[] = [];
  const logger = { ...silentLogger, error: (obj: unknown) => void errors.push(obj) };
  const log = await AuditLog.open(auditConfig(path), { fs, logger });
  await log.append(sampleEvent(0));
  fs.failAppendNumber = 2;
  for (let i = 1; i <= 10; i++) t.is(log.appendMembers(`"event":"key.operation","i":${i}`), undefined);
  const waiting = log.append(sampleEvent(11));
  t.true(isKeywardError(await t.throwsAsync(waiting), 'unavailable'));
  t.is(errors.length, 1, 'one error logged for the failed write');
  const refused = log.appendMembers('"event":"key.operation"');
  t.true(isKeywardError(refused, 'unavailable'));
  t.is(log.appendMembers('"event":"key.operation"'), refused);
  t.true(isKeywardError(await t.throwsAsync(log.append(sampleEvent(12))), 'unavailable'));
  await log.close();
  t.is(log.head.seq, 1);
  t.deepEqual(await verifyAuditChain([path]), { ok: true, records: 1, files: 1, head: log.head });
});

test('with the system clock, time is the moment of the append, to the millisecond', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  const moments: [number, number][] = [];
  for (let i = 0; i < 20; i++) {
    const before = Date.now();
    log.appendMembers(`"i":${i}`);
    moments.push([before, Date.now()]);
    if (i % 5 === 4) await sleep(3);
  }
  await log.close();
  const times = (await readLines(path)).lines.map((l) => (JSON.parse(l) as { time: string }).time);
  for (const [i, time] of times.entries()) {
    t.regex(time, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
    const ms = Date.parse(time);
    t.true(ms >= moments[i]![0] && ms <= moments[i]![1], `record ${i + 1}: ${time}`);
  }
  t.true(new Set(times).size >= 4, 'records of later milliseconds carry later times');
});
