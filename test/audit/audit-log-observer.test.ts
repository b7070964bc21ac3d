// The call observer of the local audit log (src/audit/audit-log-observer.ts): every
// ended call becomes one chained record with the fields of docs/audit.md in their
// order; calls never see the log's failures, which are logged once per cause.
import test from 'ava';
import { join } from 'node:path';
import { AuditLogObserver } from '../../src/audit/audit-log-observer.js';
import { AuditLog } from '../../src/audit/audit-log.js';
import { verifyAuditChain } from '../../src/audit/verify-audit-chain.js';
import type { CallerIdentity } from '../../src/core/caller.js';
import { silentLogger, type Logger } from '../../src/core/logger.js';
import { auditConfig, readLines, tempDir } from './audit-test-files.js';
import { SpyAuditLogFs } from './spy-audit-log-fs.js';

const caller: CallerIdentity = { peer: { pid: 4242, uid: 1000, gid: 1000 }, exe: '/usr/bin/app', exeVerified: true, subject: 'uid:1000' };
const noMetadata = () => undefined;

function recordingLogger(): { logger: Logger; errors: { obj: unknown; msg: string | undefined }[] } {
  const errors: { obj: unknown; msg: string | undefined }[] = [];
  const logger: Logger = { ...silentLogger, error: (obj: unknown, msg?: string) => void errors.push({ obj, msg }), child: () => logger };
  return { logger, errors };
}

test('each ended call is one record: its fields in order, chained; run hands back the call', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const log = await AuditLog.open(auditConfig(path));
  const observer = new AuditLogObserver(log, silentLogger, 'data');
  const call = observer.start('Encrypt', noMetadata);
  t.is(await call.run(() => Promise.resolve(42)), 42);
  call.end({ code: 0, codeName: 'OK', keyId: 'alpha', keyVersion: 3, backend: 'local', cacheHit: false, dekGenerated: true, caller });
  const denied = observer.start('Decrypt', noMetadata);
  denied.end({ code: 7, codeName: 'PERMISSION_DENIED', keyId: 'beta', caller, denialReason: 'no rule grants decrypt on key "beta" to uid:1000' });
  const bare = observer.start('DecryptBatch', noMetadata);
  bare.end({ code: 0, codeName: 'OK', batchSize: 4, deniedItems: 1 });
  await log.close();

  const records = (await readLines(path)).lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  t.is(records.length, 3);
  t.deepEqual(Object.keys(records[0]!), [
    'seq',
    'time',
    'prev',
    'event',
    'plane',
    'operation',
    'outcome',
    'key_id',
    'key_version',
    'backend',
    'cache_hit',
    'dek_generated',
    'actor',
    'peer_pid',
    'peer_uid',
    'peer_gid',
    'exe',
    'duration_us',
  ]);
  t.like(records[0], { seq: 1, event: 'key.operation', plane: 'data', operation: 'Encrypt', outcome: 'ok', key_id: 'alpha', key_version: 3, cache_hit: false, actor: 'uid:1000' });
  t.true(Number.isSafeInteger(records[0]!['duration_us']) && (records[0]!['duration_us'] as number) >= 0);
  t.like(records[1], { seq: 2, operation: 'Decrypt', outcome: 'PERMISSION_DENIED', reason: 'no rule grants decrypt on key "beta" to uid:1000' });
  t.deepEqual(Object.keys(records[1]!).slice(-2), ['reason', 'duration_us']);
  t.like(records[2], { seq: 3, operation: 'DecryptBatch', batch_size: 4, denied_items: 1 });
  t.false('actor' in records[2]!);
  t.true((await verifyAuditChain([path])).ok);
});

test('a failed log: calls go on, nothing reaches them, and each cause is logged once', async (t) => {
  const dir = await tempDir(t);
  const path = join(dir, 'audit.log');
  const fs = new SpyAuditLogFs();
  fs.failAppendNumber = 1;
  const sink = recordingLogger();
  const log = await AuditLog.open(auditConfig(path), { fs, logger: sink.logger });
  const calls = recordingLogger();
  const observer = new AuditLogObserver(log, calls.logger, 'data');
  const endCalls = (n: number) => {
    for (let i = 0; i < n; i++) t.notThrows(() => observer.start('Encrypt', noMetadata).end({ code: 0, codeName: 'OK', keyId: 'alpha', caller }));
  };
  endCalls(5);
  await new Promise((resolve) => setImmediate(resolve));
  await new Promise((resolve) => setImmediate(resolve));
  t.is(sink.errors.length, 1, 'the log reports its failed write once');
  endCalls(20);
  t.is(calls.errors.length, 1, 'the refusals after it are logged once, not per call');
  t.regex(String((calls.errors[0]!.obj as { err: string }).err), /unavailable|a write failed/);
  await log.close();
  endCalls(5);
  t.is(calls.errors.length, 2, 'a closed log: one more line');
  t.regex(String((calls.errors[1]!.obj as { err: string }).err), /closed/);
  // An outcome with bytes in it is refused by the format and logged, never thrown.
  t.notThrows(() => observer.start('Encrypt', noMetadata).end({ code: 0, codeName: 'OK', keyId: Buffer.from('k') as unknown as string }));
  t.is(calls.errors.length, 3);
  t.is(log.head.seq, 0);
});
