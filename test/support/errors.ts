// Small helpers shared by the tests: run a function and capture what it threw, so a
// loop over hundreds of inputs can collect every unexpected outcome into one list and
// fail with all of them at once instead of stopping at the first.
import { KeywardError, type KeywardErrorCode } from '../../src/core/keyward-error.js';

/** What `fn` threw, or `undefined` when it returned normally. */
export function thrownBy(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return undefined;
}

/**
 * Describes the outcome of `fn` when it is not a KeywardError with one of `codes`;
 * returns undefined when it is. Used to build lists of failures.
 */
export function unexpectedOutcome(fn: () => unknown, codes: readonly KeywardErrorCode[]): string | undefined {
  const err = thrownBy(fn);
  if (err === undefined) return 'returned normally';
  if (!(err instanceof KeywardError)) {
    return `threw ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`;
  }
  if (!codes.includes(err.code)) return `threw KeywardError ${err.code}: ${err.message}`;
  return undefined;
}

/** A buffer's content is all zero bytes. */
export function isAllZero(buf: Uint8Array): boolean {
  for (const b of buf) if (b !== 0) return false;
  return true;
}
