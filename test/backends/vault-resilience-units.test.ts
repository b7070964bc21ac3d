// The Vault backend's resilience parts on a fake clock, so that minutes of backoff and
// breaker time pass in microseconds: backoff delays and jitter, which failures are
// retried (never 4xx; non-idempotent requests only when Vault cannot have processed
// them), the circuit breaker's states, the concurrency bound's queue and its deadline.
import test from 'ava';
import { CircuitBreaker, type BreakerState } from '../../src/backends/vault/circuit-breaker.js';
import { ConcurrencyLimiter } from '../../src/backends/vault/concurrency-limiter.js';
import { backoffDelay, isRetryable } from '../../src/backends/vault/retry-policy.js';
import { SecretRedactor } from '../../src/backends/vault/secret-redactor.js';
import type { Timing } from '../../src/backends/vault/timing.js';
import { VaultRequestError } from '../../src/backends/vault/vault-request-error.js';

/** A clock that moves only when told to, running due timers in order. */
class FakeTiming implements Timing {
  t = 1_000_000;
  rnd = 0.5;
  readonly #timers: Array<{ at: number; fn: () => void; id: number }> = [];
  #ids = 0;

  now(): number {
    return this.t;
  }

  random(): number {
    return this.rnd;
  }

  schedule(fn: () => void, ms: number): () => void {
    const id = ++this.#ids;
    this.#timers.push({ at: this.t + ms, fn, id });
    return () => {
      const i = this.#timers.findIndex((x) => x.id === id);
      if (i >= 0) this.#timers.splice(i, 1);
    };
  }

  advance(ms: number): void {
    const end = this.t + ms;
    for (;;) {
      this.#timers.sort((a, b) => a.at - b.at);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.t = next.at;
      next.fn();
    }
    this.t = end;
  }
}

const http = (status: number) => new VaultRequestError('http', `HTTP ${status}`, { status });
const network = (mayHaveReachedVault: boolean) => new VaultRequestError('network', 'ECONNRESET', { mayHaveReachedVault });

test('backoff doubles from the base up to the cap, with half of each step random ("equal jitter")', (t) => {
  const settings = { maxAttempts: 10, baseDelayMs: 100, maxDelayMs: 1_000 };
  const low = { random: () => 0 };
  const high = { random: () => 0.999999 };
  t.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(settings, a, low)), [50, 100, 200, 400, 500, 500]);
  t.deepEqual([1, 2, 3, 4, 5, 6].map((a) => backoffDelay(settings, a, high)), [100, 200, 400, 800, 1000, 1000]);
  const spread = new Set(Array.from({ length: 50 }, () => backoffDelay(settings, 3, Math)));
  t.true(spread.size > 10, 'jitter spreads clients that failed together');
});

test('retried: network errors, timeouts and 5xx; never 4xx; non-idempotent only when Vault cannot have processed it', (t) => {
  const cases: Array<[VaultRequestError, boolean, boolean]> = [
    // [failure, retried when idempotent, retried when unsafe]
    [network(false), true, true],
    [network(true), true, false],
    [new VaultRequestError('timeout', 'slow'), true, false],
    [http(500), true, false],
    [http(502), true, false],
    [http(503), true, true],
    [http(504), true, false],
    [http(400), false, false],
    [http(403), false, false],
    [http(404), false, false],
    [http(412), false, false],
    [http(429), false, false],
    [new VaultRequestError('circuit-open', 'open'), false, false],
    [new VaultRequestError('overloaded', 'busy'), false, false],
    [new VaultRequestError('closed', 'closed'), false, false],
  ];
  for (const [err, idempotent, unsafe] of cases) {
    const what = `${err.kind} ${err.status ?? ''} reached=${err.mayHaveReachedVault}`;
    t.is(isRetryable(err, 'idempotent'), idempotent, `idempotent: ${what}`);
    t.is(isRetryable(err, 'unsafe'), unsafe, `unsafe: ${what}`);
  }
  t.false(isRetryable(new Error('not ours'), 'idempotent'));
});

test('the breaker opens after N consecutive failures, fails fast while open, lets one probe through after open_ms, closes on success', (t) => {
  const timing = new FakeTiming();
  const changes: BreakerState[] = [];
  const breaker = new CircuitBreaker({ failureThreshold: 3, openMs: 5_000 }, timing, (s) => changes.push(s));
  breaker.tryAcquire()!.fail();
  breaker.tryAcquire()!.fail();
  breaker.tryAcquire()!.succeed(); // a success (a 4xx too) resets the count
  breaker.tryAcquire()!.fail();
  breaker.tryAcquire()!.fail();
  t.is(breaker.state, 'closed');
  breaker.tryAcquire()!.fail();
  t.is(breaker.state, 'open');
  t.is(breaker.tryAcquire(), undefined);
  t.is(breaker.retryInMs, 5_000);
  timing.advance(4_999);
  t.is(breaker.tryAcquire(), undefined, 'still open 1 ms before open_ms');
  timing.advance(1);
  t.is(breaker.state, 'half-open');
  const probe = breaker.tryAcquire();
  t.truthy(probe);
  t.is(breaker.tryAcquire(), undefined, 'one probe at a time');
  probe!.fail();
  t.is(breaker.state, 'open', 'a failed probe opens it again');
  timing.advance(5_000);
  const cancelled = breaker.tryAcquire()!;
  cancelled.cancel();
  t.is(breaker.state, 'half-open', 'a probe that was not sent leaves it half-open');
  breaker.tryAcquire()!.succeed();
  t.is(breaker.state, 'closed');
  t.truthy(breaker.tryAcquire());
  t.deepEqual(changes, ['open', 'half-open', 'open', 'half-open', 'closed']);
});

test('a permit reports once: a second report is ignored', (t) => {
  const breaker = new CircuitBreaker({ failureThreshold: 1, openMs: 1_000 }, new FakeTiming());
  const permit = breaker.tryAcquire()!;
  permit.succeed();
  permit.fail();
  t.is(breaker.state, 'closed');
});

test('the concurrency bound: N at a time, FIFO; a waiter gives up (overloaded) after its wait bound', async (t) => {
  const timing = new FakeTiming();
  const limiter = new ConcurrencyLimiter(2, timing);
  const a = await limiter.acquire(1_000);
  const b = await limiter.acquire(1_000);
  t.is(limiter.active, 2);
  const order: string[] = [];
  const c = limiter.acquire(1_000).then((release) => (order.push('c'), release));
  const d = limiter.acquire(100).then(
    () => order.push('d granted'),
    (err: unknown) => order.push(`d ${(err as VaultRequestError).kind}`),
  );
  const e = limiter.acquire(1_000).then((release) => (order.push('e'), release));
  t.is(limiter.waiting, 3);
  timing.advance(100);
  await d;
  t.deepEqual(order, ['d overloaded']);
  a();
  a(); // releasing twice frees one slot only
  const releaseC = await c;
  t.is(limiter.active, 2);
  b();
  const releaseE = await e;
  t.deepEqual(order, ['d overloaded', 'c', 'e']);
  releaseC();
  releaseE();
  t.is(limiter.active, 0);
  t.is(limiter.waiting, 0);
});

test('the redactor removes every remembered secret, keeps the 32 most recent, ignores short strings', (t) => {
  const r = new SecretRedactor();
  const token = 'hvs.CAESIJ-secret-token-value';
  r.add(token);
  r.add('abc'); // too short to hunt for
  t.is(r.redact(`denied for ${token} and ${token}`), 'denied for [redacted] and [redacted]');
  t.is(r.redact('abc'), 'abc');
  for (let i = 0; i < 40; i++) r.add(`another-secret-${i}`);
  t.is(r.redact(token), token, 'the oldest was dropped');
  t.is(r.redact('another-secret-39'), '[redacted]');
  t.true(r.clip('x'.repeat(1000), 10).length <= 11);
});
