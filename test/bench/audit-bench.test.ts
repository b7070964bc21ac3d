// The audit bench's paired-round estimator: the median of each round's own overhead
// (its 'audit off' row then its 'audit on' row), so one disturbed round cannot move it.
import test from 'ava';
import { pairedMedianOverhead } from '../../bench/audit-bench.js';

const round = (off: number, on: number) => [
  { label: 'audit off', callsPerSecond: off },
  { label: 'audit on', callsPerSecond: on },
];

test('the median of the rounds: odd and even counts, one outlier round ignored', (t) => {
  t.is(pairedMedianOverhead([...round(1000, 900), ...round(1000, 950), ...round(1000, 500)]).toFixed(3), '0.100');
  t.is(pairedMedianOverhead([...round(1000, 900), ...round(2000, 1900)]).toFixed(3), '0.075');
});

test('rows out of order or without calls give no figure', (t) => {
  t.true(Number.isNaN(pairedMedianOverhead([])));
  t.true(Number.isNaN(pairedMedianOverhead([{ label: 'audit on', callsPerSecond: 1 }, { label: 'audit off', callsPerSecond: 1 }])));
  t.true(Number.isNaN(pairedMedianOverhead(round(0, 10))));
});
