// The caller of a call as the audit reports it: one table, each fact under its span
// attribute name (OpenTelemetry's where one exists, docs/tracing.md) and its audit record
// field (docs/audit.md), so spans and records always carry the same facts.
import type { CallerIdentity } from '../core/caller.js';

interface CallerField {
  readonly span: string;
  readonly record: string;
  readonly value: (caller: CallerIdentity) => string | number | undefined;
}

const CALLER_FIELDS: readonly CallerField[] = [
  { span: 'enduser.id', record: 'actor', value: (c) => c.subject },
  { span: 'keyward.peer.pid', record: 'peer_pid', value: (c) => c.peer.pid },
  { span: 'keyward.peer.uid', record: 'peer_uid', value: (c) => c.peer.uid },
  { span: 'keyward.peer.gid', record: 'peer_gid', value: (c) => c.peer.gid },
  { span: 'process.executable.path', record: 'exe', value: (c) => c.exe },
  { span: 'container.id', record: 'container_id', value: (c) => c.containerId },
  { span: 'k8s.pod.uid', record: 'pod_uid', value: (c) => c.podUid },
  { span: 'k8s.namespace.name', record: 'namespace', value: (c) => c.namespace },
  { span: 'keyward.caller.service_account', record: 'service_account', value: (c) => c.serviceAccount },
];

/** The caller's known facts as [name, value] pairs, named for a span or for an audit record. */
export function callerEntries(caller: CallerIdentity, naming: 'span' | 'record'): Array<[string, string | number]> {
  const entries: Array<[string, string | number]> = [];
  for (const field of CALLER_FIELDS) {
    const value = field.value(caller);
    if (value !== undefined) entries.push([field[naming], value]);
  }
  return entries;
}

/**
 * The caller's record fields as JSON object members — `"actor":"uid:1000","peer_pid":42,…`,
 * exactly the text JSON.stringify writes for `Object.fromEntries(callerEntries(caller,
 * 'record'))` between its braces — or undefined when a value is neither a string nor a
 * number (the caller then serializes the slow way). Made once per identity object:
 * identities are per connection or token and never change.
 */
export function callerRecordMembers(caller: CallerIdentity): string | undefined {
  let members = recordMembersByCaller.get(caller);
  if (members === undefined) {
    members = recordMembersOf(caller);
    recordMembersByCaller.set(caller, members);
  }
  return members ?? undefined;
}

const recordMembersByCaller = new WeakMap<CallerIdentity, string | null>();

function recordMembersOf(caller: CallerIdentity): string | null {
  const entries = callerEntries(caller, 'record');
  for (const [, value] of entries) if (typeof value !== 'string' && typeof value !== 'number') return null;
  return JSON.stringify(Object.fromEntries(entries)).slice(1, -1);
}
