// The Caller the use cases see: one identity and what the policy grants it. A denial
// throws the one fixed PERMISSION_DENIED message (whether or not the key exists) with
// the reason in the cause (logged, never sent), and is reported for failure counting.
import { DenialReason, PERMISSION_DENIED_MESSAGE, type Caller, type CallerIdentity, type Operation } from '../core/caller.js';
import { KeywardError } from '../core/keyward-error.js';
import type { Grants } from './access-policy.js';
import type { FailedAttempt } from './failed-attempt-monitor.js';

export function denied(reason: string): KeywardError {
  return new KeywardError('permission-denied', PERMISSION_DENIED_MESSAGE, { cause: new DenialReason(reason) });
}

export class PolicyCaller implements Caller {
  readonly identity: CallerIdentity;
  readonly #grants: Grants;
  readonly #onDenied: (attempt: FailedAttempt) => void;

  constructor(identity: CallerIdentity, grants: Grants, onDenied: (attempt: FailedAttempt) => void) {
    this.identity = identity;
    this.#grants = grants;
    this.#onDenied = onDenied;
  }

  authorize(operation: Operation, keyId: string): void {
    if (!this.#grants.permits(operation, keyId)) this.#refuse(operation, keyId);
  }

  authorizeAny(operation: Operation): void {
    if (!this.#grants.grantsAny(operation)) this.#refuse(operation, undefined);
  }

  /** Counts the denial and throws it; `keyId` undefined: the operation on any key. */
  #refuse(operation: Operation, keyId: string | undefined): never {
    const applying = this.#grants.ruleNames;
    const on = keyId === undefined ? 'any key' : `key "${keyId}"`;
    const reason = `no rule grants ${operation} on ${on} to ${this.identity.subject} (rules that apply to it: ${applying.length > 0 ? applying.join(', ') : 'none'})`;
    this.#onDenied({ subject: this.identity.subject, operation, ...(keyId !== undefined ? { keyId } : {}), reason });
    throw denied(reason);
  }

  permits(operation: Operation, keyId: string): boolean {
    return this.#grants.permits(operation, keyId);
  }

}
