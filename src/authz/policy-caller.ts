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
    if (this.#grants.permits(operation, keyId)) return;
    const applying = this.#grants.ruleNames;
    const reason = `no rule grants ${operation} on key "${keyId}" to ${this.identity.subject} (rules that apply to it: ${applying.length > 0 ? applying.join(', ') : 'none'})`;
    this.#onDenied({ subject: this.identity.subject, operation, keyId, reason });
    throw denied(reason);
  }

  permits(operation: Operation, keyId: string): boolean {
    return this.#grants.permits(operation, keyId);
  }

  grantsAny(operation: Operation): boolean {
    return this.#grants.grantsAny(operation);
  }
}
