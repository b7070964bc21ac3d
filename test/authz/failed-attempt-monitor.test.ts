// Policy §8's alert on repeated denials ("failed access attempts > 3 in 5 minutes"),
// driven by a hand-moved clock: the threshold is exceeded, not reached; one alert per
// burst; a slow trickle never alerts; the window is half-open (a denial exactly
// window_ms later no longer counts the first); identities count apart; and the number
// of identities tracked is bounded (an evicted identity starts again from zero).
import test from 'ava';
import { FailedAttemptMonitor, type FailedAttempt, type FailedAttemptAlert } from '../../src/authz/failed-attempt-monitor.js';

const THRESHOLD = 3;
const WINDOW_MS = 300_000;

function fixture(options: { maxIdentities?: number } = {}) {
  let ms = 1_700_000_000_000;
  const alerts: FailedAttemptAlert[] = [];
  const monitor = new FailedAttemptMonitor({
    threshold: THRESHOLD,
    windowMs: WINDOW_MS,
    onAlert: (alert) => alerts.push(alert),
    now: () => ms,
    ...options,
  });
  let n = 0;
  /** Records one denial of `subject` at the current time; returns what record returned. */
  const deny = (subject = 'uid:1000', keyId = `key-${n}`): FailedAttemptAlert | undefined => {
    n++;
    const attempt: FailedAttempt = { subject, operation: 'decrypt', keyId, reason: `denial ${n}` };
    return monitor.record(attempt);
  };
  return {
    monitor,
    alerts,
    deny,
    advance: (by: number) => {
      ms += by;
    },
    now: () => ms,
  };
}

test('three denials do not alert; the fourth within the window alerts once with its details', (t) => {
  const f = fixture();
  for (let i = 0; i < THRESHOLD; i++) {
    t.is(f.deny(), undefined);
    f.advance(10_000);
  }
  t.deepEqual(f.alerts, []);

  const attempt: FailedAttempt = { subject: 'uid:1000', operation: 'sign', keyId: 'payments-signing', reason: 'no rule grants sign' };
  const returned = f.monitor.record(attempt);
  t.is(f.alerts.length, 1);
  const alert = f.alerts[0];
  t.is(returned, alert, 'record returns the alert it raised');
  t.is(alert?.subject, 'uid:1000');
  t.is(alert?.attempts, 4);
  t.is(alert?.windowMs, WINDOW_MS);
  t.deepEqual(alert?.last, attempt);
});

test('further denials in the same burst raise no new alert', (t) => {
  const f = fixture();
  for (let i = 0; i < 4; i++) f.deny();
  t.is(f.alerts.length, 1);
  for (let i = 0; i < 50; i++) {
    f.advance(1_000);
    t.is(f.deny(), undefined, `denial ${5 + i}`);
  }
  t.is(f.alerts.length, 1);
});

test('denials every 100 s (never more than 3 in any 5 minutes) never alert', (t) => {
  const f = fixture();
  for (let i = 0; i < 100; i++) {
    f.deny();
    f.advance(100_000);
  }
  t.deepEqual(f.alerts, []);
});

test('denials every 75 s (4 within 5 minutes) do alert', (t) => {
  // The counterpart of the test above: the same trickle, a little faster.
  const f = fixture();
  for (let i = 0; i < 3; i++) {
    f.deny();
    f.advance(75_000);
  }
  t.deepEqual(f.alerts, []);
  t.truthy(f.deny());
  t.is(f.alerts.length, 1);
  t.is(f.alerts[0]?.attempts, 4);
});

test('after a quiet period longer than the window, a new burst alerts again', (t) => {
  const f = fixture();
  for (let i = 0; i < 4; i++) f.deny();
  t.is(f.alerts.length, 1);

  f.advance(WINDOW_MS + 1);
  for (let i = 0; i < 3; i++) t.is(f.deny(), undefined, `denial ${i + 1} of the second burst`);
  t.is(f.alerts.length, 1);
  const second = f.deny('uid:1000', 'second-burst-key');
  t.is(f.alerts.length, 2);
  t.is(second, f.alerts[1]);
  t.is(second?.attempts, 4);
  t.is(second?.last.keyId, 'second-burst-key');
});

test('identities are counted separately', (t) => {
  const f = fixture();
  for (let i = 0; i < 3; i++) {
    f.deny('alice');
    f.deny('bob');
  }
  t.deepEqual(f.alerts, [], '3 each, 6 in all: no alert');
  f.deny('alice');
  t.deepEqual(
    f.alerts.map((a) => a.subject),
    ['alice'],
  );
  f.deny('carol');
  t.is(f.alerts.length, 1);
  f.deny('bob');
  t.deepEqual(
    f.alerts.map((a) => [a.subject, a.attempts]),
    [
      ['alice', 4],
      ['bob', 4],
    ],
  );
});

test('the window is half-open: a denial exactly window_ms after the first no longer counts it', (t) => {
  const f = fixture();
  const start = f.now();
  f.deny(); // at start
  f.advance(1);
  f.deny(); // start + 1
  f.advance(1);
  f.deny(); // start + 2
  f.advance(WINDOW_MS - 2);
  t.is(f.now(), start + WINDOW_MS);
  t.is(f.deny(), undefined, 'the first has just left the window: 3 remain');
  t.deepEqual(f.alerts, []);
  // The next one, still at start + window_ms, has start+1, start+2, start+window_ms before it.
  t.is(f.deny()?.attempts, 4);
  t.is(f.alerts.length, 1);
});

test('one millisecond earlier, the fourth denial still counts the first', (t) => {
  const f = fixture();
  f.deny();
  f.advance(1);
  f.deny();
  f.advance(1);
  f.deny();
  f.advance(WINDOW_MS - 3);
  t.is(f.deny()?.attempts, 4);
  t.is(f.alerts.length, 1);
});

test('an identity still tracked keeps its count', (t) => {
  const f = fixture({ maxIdentities: 2 });
  for (let i = 0; i < 3; i++) f.deny('alice');
  f.deny('bob');
  t.truthy(f.deny('alice'), 'alice and bob fit in two slots: the fourth alerts');
});

test('maxIdentities bounds the identities tracked: the least recent one is forgotten', (t) => {
  const f = fixture({ maxIdentities: 2 });
  for (let i = 0; i < 3; i++) f.deny('alice');
  f.deny('bob');
  f.deny('carol'); // a third identity pushes out the least recently seen (alice)
  t.is(f.deny('alice'), undefined, 'alice starts again from zero');
  t.deepEqual(f.alerts, []);
  for (let i = 0; i < 2; i++) t.is(f.deny('alice'), undefined);
  t.is(f.deny('alice')?.attempts, 4, 'four new denials alert again');
});

test('a flood of distinct subjects does not throw and stays within the default bound', (t) => {
  const f = fixture();
  for (let i = 0; i < 3; i++) f.deny('victim');
  t.notThrows(() => {
    for (let i = 0; i < 50_000; i++) f.deny(`flood-${i}`);
  });
  t.deepEqual(f.alerts, [], 'one denial each: nobody alerts');
  // Had every subject been kept, "victim" would be at its fourth denial now.
  t.is(f.deny('victim'), undefined, 'the earliest subject was evicted');
  // The most recent subjects are still tracked.
  for (let i = 0; i < 3; i++) f.deny('flood-49999');
  t.deepEqual(
    f.alerts.map((a) => [a.subject, a.attempts]),
    [['flood-49999', 4]],
  );
});
