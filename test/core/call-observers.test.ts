// combineObservers: every observer sees the end of every call, in order; only the
// observers that wrap calls run around it, outermost first, and the call runs once.
import test from 'ava';
import type { CallObserver, CallOutcome } from '../../src/core/call-observer.js';
import { combineObservers } from '../../src/core/call-observers.js';

function recorder(name: string, wraps: boolean, log: string[]): CallObserver {
  return {
    ...(wraps ? { wrapsCalls: true } : {}),
    start: (method) => ({
      run: async (fn) => {
        log.push(`${name}:enter:${method}`);
        try {
          return await fn();
        } finally {
          log.push(`${name}:leave`);
        }
      },
      end: (outcome: CallOutcome) => log.push(`${name}:end:${outcome.codeName}`),
    }),
  };
}

test('wrapping observers run around the call, outermost first; the others only see its end', async (t) => {
  const log: string[] = [];
  const combined = combineObservers([recorder('metrics', false, log), recorder('outer', true, log), recorder('log', false, log), recorder('inner', true, log)], (err) => t.fail(String(err)));
  t.true(combined.wrapsCalls);
  const call = combined.start('Encrypt', () => undefined);
  const result = await call.run(async () => {
    log.push('use case');
    return 42;
  });
  call.end({ code: 0, codeName: 'OK' });
  t.is(result, 42);
  t.deepEqual(log, ['outer:enter:Encrypt', 'inner:enter:Encrypt', 'use case', 'inner:leave', 'outer:leave', 'metrics:end:OK', 'outer:end:OK', 'log:end:OK', 'inner:end:OK']);
});

test('with no wrapping observer the call runs as it is, and a failure passes through', async (t) => {
  const log: string[] = [];
  const combined = combineObservers([recorder('metrics', false, log), recorder('log', false, log)], (err) => t.fail(String(err)));
  t.falsy(combined.wrapsCalls);
  const call = combined.start('Decrypt', () => undefined);
  await t.throwsAsync(call.run(async () => Promise.reject(new Error('boom'))), { message: 'boom' });
  call.end({ code: 3, codeName: 'INVALID_ARGUMENT' });
  t.deepEqual(log, ['metrics:end:INVALID_ARGUMENT', 'log:end:INVALID_ARGUMENT']);
});

test('an observer that throws at the end is reported, and the ones after it still see the end', (t) => {
  const log: string[] = [];
  const errors: unknown[] = [];
  const broken: CallObserver = { start: () => ({ run: (fn) => fn(), end: () => { throw new Error('metrics broke'); } }) };
  const combined = combineObservers([broken, recorder('log', false, log)], (err) => errors.push(err));
  combined.start('Encrypt', () => undefined).end({ code: 0, codeName: 'OK' });
  t.deepEqual(log, ['log:end:OK']);
  t.is((errors[0] as Error).message, 'metrics broke');
});

test('a single observer is guarded too: its throw at the end is reported, not thrown into the route', (t) => {
  const errors: unknown[] = [];
  const broken: CallObserver = { start: () => ({ run: (fn) => fn(), end: () => { throw new TypeError('Cannot convert a BigInt value to a number'); } }) };
  const combined = combineObservers([broken], (err) => errors.push(err));
  t.notThrows(() => combined.start('Encrypt', () => undefined).end({ code: 0, codeName: 'OK' }));
  t.is(errors.length, 1);
});
