// Assertions on gRPC failures: the exact status code and, where the contract fixes it,
// the exact message a caller sees.
import type { ExecutionContext } from 'ava';
import { status, type ServiceError } from '@grpc/grpc-js';

export async function rejectsWithCode(
  t: ExecutionContext,
  call: Promise<unknown>,
  code: status,
  message?: string | RegExp,
): Promise<ServiceError> {
  const err = (await t.throwsAsync(call)) as ServiceError | undefined;
  if (err === undefined) throw new Error('the call did not fail');
  t.is(err.code, code, `expected ${status[code]}, got ${status[err.code]}: ${err.details}`);
  if (typeof message === 'string') t.is(err.details, message);
  else if (message instanceof RegExp) t.regex(err.details, message);
  return err;
}
