// Tests of the audit log's config fragment (src/audit/audit-log-config.ts): defaults,
// limits, and that unknown keys and unknown policies are errors.
import test from 'ava';
import { auditLogConfigSchema } from '../../src/audit/audit-log-config.js';

test('defaults: fsync every 1 s at most, 64 MiB files', (t) => {
  t.deepEqual(auditLogConfigSchema.parse({ path: '/var/lib/keyward/audit.log' }), {
    path: '/var/lib/keyward/audit.log',
    fsync: 'interval',
    fsync_interval_ms: 1000,
    max_file_bytes: 64 * 1024 * 1024,
  });
});

test('each policy is accepted; anything else, unknown keys and out-of-range sizes are refused', (t) => {
  for (const fsync of ['every-record', 'interval', 'never']) t.true(auditLogConfigSchema.safeParse({ path: 'a', fsync }).success, fsync);
  const refused = [
    {},
    { path: '' },
    { path: 'a', fsync: 'always' },
    { path: 'a', fsync_interval_ms: 0 },
    { path: 'a', max_file_bytes: 1000 },
    { path: 'a', max_file_bytes: 4096.5 },
    { path: 'a', rotate: true },
  ];
  for (const input of refused) t.false(auditLogConfigSchema.safeParse(input).success, JSON.stringify(input));
});
