// Callers for tests that exercise something other than authorization: a policy that
// grants every operation on every key to the process that connects. Built from the
// real policy classes, so it takes the same code path as a configured daemon.
import { AccessPolicy } from '../../src/authz/access-policy.js';
import { Authorizer } from '../../src/authz/authorizer.js';
import { PolicyCaller } from '../../src/authz/policy-caller.js';
import { ProcessInspector } from '../../src/authz/process-inspector.js';
import { OPERATIONS, type Caller, type CallerIdentity, type CallerSource } from '../../src/core/caller.js';

/** The `authorization` section that grants the test process (uid `self`) everything. */
export const ALLOW_SELF_EVERYTHING = {
  rules: [{ name: 'test-process', match: { uid: 'self' }, keys: ['*'], operations: [...OPERATIONS] }],
};

const policy = AccessPolicy.compile({
  roles: {},
  rules: [{ name: 'anyone', match: { uid: [process.getuid!()] }, keys: ['*'], roles: [], operations: [...OPERATIONS] }],
});

const self: CallerIdentity = { peer: { pid: process.pid, uid: process.getuid!(), gid: process.getgid!() }, subject: `uid:${process.getuid!()}` };

/** A caller of this process, granted everything (for use cases called directly). */
export const allowAllCaller: Caller = new PolicyCaller(self, policy.grantsFor(self), () => undefined);

/** Connections from this process, granted everything (for servers built by hand). */
export function allowAllCallers(): CallerSource {
  return new Authorizer({ policy, processes: new ProcessInspector(), onFailure: () => undefined });
}
