// Tests that the audit log honours its fsync policy (src/audit/audit-log.ts), counted
// through a spy file layer: 'every-record' resolves no append before an fsync covering
// it, 'interval' fsyncs at most every N ms and within N ms of a write, 'never' leaves it
// to the OS on the write path; rotation and close fsync whatever the policy.
import test from 'ava';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import { sleep } from '../support/deferred.js';
import { auditConfig, chainFiles, sampleEvent, tempDir } from './audit-test-files.js';
import { SpyAuditLogFs } from './spy-audit-log-fs.js';

test("'every-record': each append resolves only once its bytes were fsynced", async (t) => {
  const dir = await tempDir(t);
  const fs = new SpyAuditLogFs();
  const log = await AuditLog.open(auditConfig(join(dir, 'audit.log'), { fsync: 'every-record' }), { fs });
  for (let i = 0; i < 20; i++) {
    await log.append(sampleEvent(i));
    t.is(fs.syncedBytes, fs.writtenBytes, `record ${i + 1} is durable when its append resolves`);
  }
  t.is(fs.syncs, 20);
  t.is(fs.appends, 20);

  // Concurrent appends share fsyncs (group commit), and still none resolves early.
  const before = fs.syncs;
  const results = await Promise.all(
    Array.from({ length: 200 }, (_, i) =>
      log.append(sampleEvent(20 + i)).then(() => {
        if (fs.syncedBytes !== fs.writtenBytes) t.fail(`record ${21 + i} resolved before it was fsynced`);
      }),
    ),
  );
  t.is(results.length, 200);
  t.true(fs.syncs - before >= 1 && fs.syncs - before < 200, `${fs.syncs - before} fsyncs for 200 concurrent records`);
  await log.close();
});

test("'interval': appends never wait for an fsync; fsyncs come within the interval and at most one per interval", async (t) => {
  const dir = await tempDir(t);
  const fs = new SpyAuditLogFs();
  fs.syncDelayMs = 100; // a slow disk
  const intervalMs = 200;
  const log = await AuditLog.open(auditConfig(join(dir, 'audit.log'), { fsync: 'interval', fsync_interval_ms: intervalMs }), { fs });
  await log.append(sampleEvent(0));
  t.is(fs.syncs, 0, 'the append resolved before any fsync finished');
  // Appends go on while the (slow) fsync runs.
  let resolvedDuringSync = 0;
  for (let i = 1; i < 40; i++) {
    await log.append(sampleEvent(i));
    if (fs.syncsInFlight > 0) resolvedDuringSync += 1;
    await sleep(2);
  }
  t.true(resolvedDuringSync > 0, `${resolvedDuringSync} appends resolved while an fsync was in flight`);
  await sleep(intervalMs + 2 * fs.syncDelayMs + 100);
  t.is(fs.syncedBytes, fs.writtenBytes, 'everything written was fsynced within the interval');
  const settled = fs.syncs;
  await sleep(intervalMs + 100);
  t.is(fs.syncs, settled, 'nothing new written, no new fsync');

  // A steady stream for ~1 s with a fast disk: fsyncs are spaced at least intervalMs apart.
  fs.syncDelayMs = 0;
  const started = performance.now();
  const firstStart = fs.syncStarts.length;
  let i = 40;
  while (performance.now() - started < 1_000) {
    await log.append(sampleEvent(i++));
    await sleep(5);
  }
  const elapsed = performance.now() - started;
  const starts = fs.syncStarts.slice(firstStart);
  t.true(starts.length >= 2 && starts.length <= Math.ceil(elapsed / intervalMs) + 1, `${starts.length} fsyncs in ${Math.round(elapsed)} ms`);
  const all = fs.syncStarts;
  for (let k = 1; k < all.length; k++) t.true(all[k]! - all[k - 1]! >= intervalMs - 2, `fsync ${k} came ${Math.round(all[k]! - all[k - 1]!)} ms after the previous one`);
  await log.close();
  t.is(fs.syncedBytes, fs.writtenBytes, 'close fsyncs what the timer had not');
});

test("'never': no fsync while writing; rotation and close still fsync", async (t) => {
  const dir = await tempDir(t);
  const fs = new SpyAuditLogFs();
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path, { fsync: 'never', max_file_bytes: 4096 }), { fs });
  const dirSyncsAtOpen = fs.dirSyncs;
  const opsAtOpen = fs.ops.length;
  for (let i = 0; i < 10; i++) await log.append(sampleEvent(i));
  await sleep(50);
  t.is(fs.syncs, 0);
  for (let i = 10; i < 60; i++) await log.append(sampleEvent(i));
  const files = await chainFiles(path);
  const rotations = files.length - 1;
  t.true(rotations >= 2);
  t.is(fs.syncs, rotations, 'one fsync of each full file before it is renamed');
  t.is(fs.dirSyncs - dirSyncsAtOpen, rotations, 'one directory fsync per rotation');
  t.deepEqual(
    fs.ops
      .slice(opsAtOpen)
      .filter((op) => op !== 'append')
      .slice(0, 5),
    ['sync', 'close', 'link', 'unlink', 'syncDir'],
    'a rotation fsyncs and closes the old file before renaming it',
  );
  await log.close();
  t.is(fs.syncs, rotations + 1, 'close fsyncs once');
  t.true((await verifyAuditChain(files)).ok);
});

test('close with nothing written since the last fsync does not fsync again', async (t) => {
  const dir = await tempDir(t);
  const fs = new SpyAuditLogFs();
  const log = await AuditLog.open(auditConfig(join(dir, 'audit.log'), { fsync: 'every-record' }), { fs });
  await log.append(sampleEvent(0));
  t.is(fs.syncs, 1);
  await log.close();
  t.is(fs.syncs, 1);
});
