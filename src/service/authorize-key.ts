// The one access check of the use cases: runs before a key is looked up, so a denied
// caller learns nothing about whether the key exists. The key id is noted first, so a
// denial is reported (span, audit record) against the key it was for.
import type { Operation } from '../core/caller.js';
import type { CallContext } from './call-context.js';

export function authorizeKey(ctx: CallContext, operation: Operation, keyId: string): void {
  if (ctx.facts !== undefined) ctx.facts.keyId = keyId;
  ctx.caller.authorize(operation, keyId);
}
