// LifecycleEvents over a real AuditLog: recordDurably resolves once the record is written
// and fails `unavailable` when it cannot be; assertRecordable refuses in advance when the
// log takes nothing (closed: failed-precondition, failed write: unavailable).
import test from 'ava';
import { join } from 'node:path';
import { AuditLog } from '../../src/audit/audit-log.js';
import { LifecycleEvents } from '../../src/audit/lifecycle-events.js';
import { isKeywardError } from '../../src/core/keyward-error.js';
import { silentLogger } from '../../src/core/logger.js';
import { auditConfig, readLines, sampleEvent, tempDir } from './audit-test-files.js';
import { SpyAuditLogFs } from './spy-audit-log-fs.js';

test('recordDurably: written before it resolves; after a failed write, unavailable, and assertRecordable refuses too', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const fs = new SpyAuditLogFs();
  const auditLog = await AuditLog.open(auditConfig(path), { fs });
  const events = new LifecycleEvents({ auditLog, logger: silentLogger });
  t.notThrows(() => events.assertRecordable());
  await events.recordDurably('escrow.split', { key_id: 'k', key_version: 1 });
  t.is(auditLog.head.seq, 1, 'the record is written when recordDurably resolves');
  fs.failAppendNumber = 2;
  const err = await t.throwsAsync(events.recordDurably('escrow.combined', { key_id: 'k', key_version: 1 }));
  t.true(isKeywardError(err, 'unavailable'));
  t.is(err!.message, 'the escrow.combined record could not be written to the audit log');
  const refused = t.throws(() => events.assertRecordable());
  t.true(isKeywardError(refused, 'unavailable'));
  t.true(isKeywardError(t.throws(() => auditLog.assertAppendable()), 'unavailable'));
  await auditLog.close();
});

test('a closed audit log: assertRecordable is failed-precondition; without an audit log nothing is refused', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const auditLog = await AuditLog.open(auditConfig(path));
  await auditLog.append(sampleEvent(0));
  await auditLog.close();
  const events = new LifecycleEvents({ auditLog, logger: silentLogger });
  const err = t.throws(() => events.assertRecordable());
  t.true(isKeywardError(err, 'failed-precondition'));
  t.is(err!.message, `audit log ${path} is closed`);
  t.is((await readLines(path)).lines.length, 1);
  const none = new LifecycleEvents({ logger: silentLogger });
  t.notThrows(() => none.assertRecordable());
  await t.notThrowsAsync(none.recordDurably('escrow.split', { key_id: 'k' }));
});
