// The caller side of a call, the same on both planes: who calls (the connection's
// callers, with a bearer token in mesh sidecar mode), the SPIRE-style re-check of the
// connecting process around the use case, and what the outcome says about the caller —
// the identity the call ran as and the reason of a refusal (keyward's words, recorded,
// never sent).
import type { CallOutcome } from '../core/call-observer.js';
import { DenialReason, type Caller, type ConnectionCallers } from '../core/caller.js';
import { isKeywardError, KeywardError } from '../core/keyward-error.js';

/** One call as a caller: `caller` is set as soon as it is known (for the outcome). */
export interface CallerCall {
  caller: Caller | undefined;
  readonly callers: ConnectionCallers | undefined;
}

/**
 * Runs `use` as the caller of the connection. The process that connected is re-checked
 * before `use` runs — a borrowed connection does nothing and learns nothing, not even an
 * error about a key — and again before its result or its error leaves; a result refused
 * then is handed to `discard` (to wipe secrets).
 */
export async function runAsCaller<T>(
  call: CallerCall,
  authorization: string | undefined,
  use: (caller: Caller) => Promise<T>,
  discard?: (result: T) => void,
): Promise<T> {
  const callers = call.callers;
  if (callers === undefined) throw new KeywardError('unauthenticated', 'caller not identified');
  const caller = await callers.callerFor(authorization);
  call.caller = caller;
  callers.recheck(caller);
  const result = await use(caller).catch((err: unknown) => {
    callers.recheck(caller);
    throw err;
  });
  try {
    callers.recheck(caller);
  } catch (err) {
    discard?.(result);
    throw err;
  }
  return result;
}

/** The identity the call ran as or, when it never got that far, its connection's. */
export function identityOf(call: CallerCall): Pick<CallOutcome, 'caller'> {
  const identity = call.caller?.identity ?? call.callers?.identity;
  return identity ? { caller: identity } : {};
}

export function denialOf(err: unknown): Pick<CallOutcome, 'denialReason'> {
  if ((isKeywardError(err, 'permission-denied') || isKeywardError(err, 'unauthenticated')) && err.cause instanceof DenialReason) {
    return { denialReason: err.cause.message };
  }
  return {};
}
