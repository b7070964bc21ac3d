// The audit event serializer's two paths give the same text: flat records of strings,
// finite numbers and booleans skip the replacer (it costs ~1 µs per record), everything
// else goes through it — and bytes are refused on either way in. The line format and its
// hash: a line's text hashes as its UTF-8 bytes.
import test from 'ava';
import { createHash } from 'node:crypto';
import { auditEventMembers, auditLineHash, formatAuditLine, serializeAuditEvent } from '../../src/audit/audit-record.js';
import { isKeywardError } from '../../src/core/keyward-error.js';

test('flat and nested events serialize as JSON.stringify would; bigint becomes a string; bytes are refused', (t) => {
  const flat = { event: 'key.operation', key_id: 'alpha', key_version: 3, cache_hit: true, ratio: 0.5, empty: '' };
  t.is(serializeAuditEvent(flat), JSON.stringify(flat));
  const nested = { event: 'x', sizes: [1, 2], nan: Number.NaN, inner: { a: 'b' } };
  t.is(serializeAuditEvent(nested), JSON.stringify(nested));
  t.is(serializeAuditEvent({ event: 'x', big: 2n ** 70n }), `{"event":"x","big":"${2n ** 70n}"}`);
  class Labelled {
    readonly event = 'x';
  }
  t.is(serializeAuditEvent(new Labelled() as unknown as Record<string, unknown>), '{"event":"x"}');
  for (const event of [{ key: new Uint8Array(4) }, { nested: { key: Buffer.from('k') } }]) {
    const err = t.throws(() => serializeAuditEvent(event));
    t.true(isKeywardError(err, 'invalid-argument'));
  }
});

test('auditLineHash of a line as text is the SHA-256 of its UTF-8 bytes, as the verifier computes it from the file', (t) => {
  for (const line of ['{"seq":1}\n', '{"reason":"é ü ß"}\n', '{"reason":"€ 漢字 🔑 \u2028"}\n', '\n']) {
    const bytes = Buffer.from(line, 'utf8');
    const expected = createHash('sha256').update(bytes).digest('hex');
    t.is(auditLineHash(line), expected, JSON.stringify(line));
    t.is(auditLineHash(bytes), expected);
    t.is(auditLineHash(new Uint8Array(bytes)), expected);
  }
});

test('formatAuditLine: seq, time and prev, then the members; auditEventMembers strips the braces', (t) => {
  const prev = 'ab'.repeat(32);
  t.is(formatAuditLine(7, '2026-03-01T09:30:12.345Z', prev, '"event":"x","n":1'), `{"seq":7,"time":"2026-03-01T09:30:12.345Z","prev":"${prev}","event":"x","n":1}\n`);
  t.is(formatAuditLine(1, '2026-03-01T09:30:12.345Z', prev, ''), `{"seq":1,"time":"2026-03-01T09:30:12.345Z","prev":"${prev}"}\n`);
  t.is(auditEventMembers(serializeAuditEvent({ event: 'x', n: 1 })), '"event":"x","n":1');
  t.is(auditEventMembers(serializeAuditEvent({})), '');
});
