// Policy patterns: `*` is the only wildcard, everything else is literal (regular
// expression characters included), and matching stays fast on long adversarial input.
import test from 'ava';
import { compileGlob } from '../../src/authz/glob-pattern.js';

const cases: Array<[string, string, boolean]> = [
  ['payments-*', 'payments-db', true],
  ['payments-*', 'payments-', true],
  ['payments-*', 'payment-db', false],
  ['*-db', 'orders-db', true],
  ['*-db', 'orders-dbx', false],
  ['a*b*c', 'abc', true],
  ['a*b*c', 'axxbyyc', true],
  ['a*b*c', 'axxbyycz', false],
  ['a*b*c', 'acb', false],
  ['a.b', 'axb', false],
  ['a.b', 'a.b', true],
  ['(x)+', '(x)+', true],
  ['/usr/bin/*', '/usr/bin/node', true],
  ['/usr/bin/*', '/usr/local/bin/node', false],
  ['*', '', true],
  ['**', 'anything', true],
  ['a**b', 'ab', true],
  ['', '', true],
  ['', 'a', false],
];

test('literal text, `*` for any run', (t) => {
  for (const [pattern, value, expected] of cases) t.is(compileGlob(pattern)(value), expected, `${pattern} ~ ${value}`);
});

test('an adversarial pattern against a long value stays fast (no backtracking blow-up)', (t) => {
  const matches = compileGlob('team-*-svc-*-v1*x*y*z');
  const value = 'team-' + 'a'.repeat(100_000);
  const started = process.hrtime.bigint();
  t.false(matches(value));
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  t.true(ms < 2_000, `${ms} ms`);
});
