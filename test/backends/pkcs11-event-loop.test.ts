// HSM calls must not block the event loop: an RSA-4096 signature takes milliseconds, and a
// daemon whose loop stalls for them stalls every other caller. The backend runs them on
// libuv's thread pool (pkcs11js's async calls); this file measures the loop's delay with
// perf_hooks.monitorEventLoopDelay while 8 signatures run at once, next to a control that
// signs the same way on the main thread, so the measurement is shown to catch a block.
import test from 'ava';
import { generateKeyPairSync, sign as signCallback, sign as signSync } from 'node:crypto';
import { promisify } from 'node:util';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Pkcs11Backend } from '../../src/backends/pkcs11/pkcs11-backend.js';
import { silentLogger } from '../../src/core/logger.js';
import { createSoftHsmToken } from '../support/softhsm-token.js';

const token = createSoftHsmToken('event-loop');
test.after.always(() => token.cleanup());

const SIGNATURES = 8;
const ROUNDS = 10;
const ms = (ns: number) => ns / 1e6;

interface LoopDelay {
  readonly p50: number;
  readonly p99: number;
  readonly max: number;
  readonly elapsedMs: number;
  readonly ticks: number;
}

/** Runs `round` ROUNDS times, measuring the loop's delay and counting 1 ms timer ticks. */
async function measure(round: () => Promise<unknown>): Promise<LoopDelay> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let ticks = 0;
  const ticker = setInterval(() => ticks++, 1);
  histogram.enable();
  const start = performance.now();
  for (let i = 0; i < ROUNDS; i++) await round();
  const elapsedMs = performance.now() - start;
  histogram.disable();
  clearInterval(ticker);
  return { p50: ms(histogram.percentile(50)), p99: ms(histogram.percentile(99)), max: ms(histogram.max), elapsedMs, ticks };
}

test.serial(`the event loop stays responsive while ${SIGNATURES} RSA-4096 signatures run in the HSM`, async (t) => {
  const backend = new Pkcs11Backend({
    name: 'hsm',
    modulePath: token.module,
    token: token.label,
    pin: { file: token.pinFile },
    createMissingKeys: true,
    logger: silentLogger,
  });
  await backend.open();
  t.teardown(() => backend.close());
  await backend.ensureKey({ keyId: 'rsa', purpose: 'sign', algorithm: 'rsa-4096', backend: 'hsm' });
  const message = Buffer.from('event loop');
  const hsmRound = () => Promise.all(Array.from({ length: SIGNATURES }, () => backend.sign('rsa', 1, 'rsa-pkcs1-sha256', { message })));
  await hsmRound(); // warm-up

  // Control: the same signatures computed synchronously on the main thread.
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 4096 });
  const blockingRound = async () => {
    for (let i = 0; i < SIGNATURES; i++) signSync('sha256', message, privateKey);
    await new Promise((resolve) => setImmediate(resolve));
  };
  await blockingRound();

  // Reference: node:crypto's async sign, which also runs on the thread pool (design.md §8).
  const signAsync = promisify(signCallback);
  const threadPoolRound = () => Promise.all(Array.from({ length: SIGNATURES }, () => signAsync('sha256', message, privateKey)));
  await threadPoolRound();

  const hsm = await measure(hsmRound);
  const blocking = await measure(blockingRound);
  const threadPool = await measure(threadPoolRound);
  const show = (d: LoopDelay) =>
    `p50 ${d.p50.toFixed(2)} ms, p99 ${d.p99.toFixed(2)} ms, max ${d.max.toFixed(2)} ms; ${d.ticks} timer ticks in ${d.elapsedMs.toFixed(1)} ms`;
  t.log(`HSM (async, ${ROUNDS} rounds of ${SIGNATURES}): ${show(hsm)}`);
  t.log(`control (node:crypto sync sign on the main thread): ${show(blocking)}`);
  t.log(`reference (node:crypto async sign, thread pool): ${show(threadPool)}`);

  // The control proves the measurement: a blocked loop shows up as a delay of a whole
  // round, and as a 1 ms timer that fires about once per round.
  const blockedRound = blocking.elapsedMs / ROUNDS;
  t.true(blocking.p99 >= blockedRound * 0.6, `the monitor sees a loop blocked for a whole round (${blocking.p99.toFixed(1)} of ${blockedRound.toFixed(1)} ms)`);
  t.true(blocking.ticks <= ROUNDS + 2, `a blocked loop fires its 1 ms timer about once per round (${blocking.ticks} ticks)`);
  // With the HSM the loop keeps turning: the median delay stays at the timer's resolution
  // and the 1 ms timer keeps firing. The tail (p99) is logged: on 2 cores, 4 signing
  // threads (and, under `make test`, other test processes) compete with the main thread
  // for CPU, so single samples of tens of ms are scheduling, not blocking — node's own
  // thread-pool signing shows the same; it is bounded only loosely here.
  t.true(hsm.p50 < 3, `median event-loop delay ${hsm.p50.toFixed(2)} ms`);
  t.true(hsm.p50 < blocking.p99 / 4, `median ${hsm.p50.toFixed(2)} ms, far below a blocked round (${blocking.p99.toFixed(1)} ms)`);
  t.true(hsm.ticks >= 4 * ROUNDS, `a 1 ms timer kept firing (${hsm.ticks} ticks in ${hsm.elapsedMs.toFixed(0)} ms, vs ${blocking.ticks} when blocked)`);
  t.true(hsm.p99 < 250, `no long stall: p99 ${hsm.p99.toFixed(2)} ms`);
});
