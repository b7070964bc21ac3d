// The audit event serializer's two paths give the same text: flat records of strings,
// finite numbers and booleans skip the replacer (it costs ~1 µs per record), everything
// else goes through it — and bytes are refused on either way in.
import test from 'ava';
import { serializeAuditEvent } from '../../src/audit/audit-record.js';
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
