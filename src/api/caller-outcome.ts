// What a call's outcome says about its caller, for both planes: the identity the call
// ran as (or, when it never got that far, its connection's), and the reason of a
// denial or failed authentication — keyward's own words, recorded, never sent.
import type { CallOutcome } from '../core/call-observer.js';
import { DenialReason, type Caller, type ConnectionCallers } from '../core/caller.js';
import { isKeywardError } from '../core/keyward-error.js';

export function identityOf(caller: Caller | undefined, callers: ConnectionCallers | undefined): Pick<CallOutcome, 'caller'> {
  const identity = caller?.identity ?? callers?.identity;
  return identity ? { caller: identity } : {};
}

export function denialOf(err: unknown): Pick<CallOutcome, 'denialReason'> {
  if ((isKeywardError(err, 'permission-denied') || isKeywardError(err, 'unauthenticated')) && err.cause instanceof DenialReason) {
    return { denialReason: err.cause.message };
  }
  return {};
}
