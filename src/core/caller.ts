// Who is calling and what they may do: the identity the transport established for a
// call (peer credentials, /proc facts, a verified bearer token) and the access check the
// use cases ask before they touch a key. The authz layer implements it; the api layer
// hands it to the use cases; neither side sees the other's internals.

/** SO_PEERCRED of the connection: the process that connected, as the kernel saw it. */
export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/**
 * The connecting process itself (a pidfd from SO_PEERPIDFD), when the kernel offers one:
 * unlike a pid it can never come to mean another process.
 */
export interface PeerProcess {
  /** True once the process that connected has exited. */
  exited(): boolean;
}

/** Everything the daemon knows of a caller; policy rules match on these attributes. */
export interface CallerIdentity {
  readonly peer: PeerCredentials;
  /** The connecting process's executable (absent when /proc does not tell). */
  readonly exe?: string;
  /**
   * `exe` names a file in the daemon's own mount namespace. Only then do `exe` rules
   * match: in another namespace (a container, a user namespace) the caller chose the path.
   */
  readonly exeVerified?: boolean;
  /** From /proc/<pid>/cgroup: the container the process runs in. */
  readonly containerId?: string;
  /** From the cgroup path or, in mesh sidecar mode, from the bearer token. */
  readonly podUid?: string;
  /** From a verified bearer token (Kubernetes service-account claims). */
  readonly namespace?: string;
  readonly serviceAccount?: string;
  /** The verified token's claims, when the call carried one. */
  readonly claims?: Readonly<Record<string, unknown>>;
  /** A stable name for logs, spans and failure counting: the token's subject, else uid:<n>. */
  readonly subject: string;
}

/** What a policy grants on a key: the data-plane operations and the admin-plane ones. */
export const DATA_OPERATIONS = ['encrypt', 'decrypt', 'reencrypt', 'datakey', 'sign', 'verify', 'mac', 'public_key'] as const;
export const ADMIN_OPERATIONS = ['list', 'describe', 'rotate', 'escrow'] as const;
export type DataOperation = (typeof DATA_OPERATIONS)[number];
export type AdminOperation = (typeof ADMIN_OPERATIONS)[number];
export type Operation = DataOperation | AdminOperation;
export const OPERATIONS: readonly Operation[] = [...DATA_OPERATIONS, ...ADMIN_OPERATIONS];

/** The fixed message of every denial: the same whether or not the key exists. */
export const PERMISSION_DENIED_MESSAGE = 'permission denied';

/**
 * The cause of a denial or a failed authentication: a reason written by keyward for the
 * audit record and the log (never sent to the caller).
 */
export class DenialReason extends Error {
  override readonly name = 'DenialReason';
}

/** The caller of one RPC, as the use cases see it. */
export interface Caller {
  readonly identity: CallerIdentity;
  /**
   * Throws KeywardError 'permission-denied' (always PERMISSION_DENIED_MESSAGE) unless
   * the policy grants `operation` on `keyId`. Denials are counted per identity.
   */
  authorize(operation: Operation, keyId: string): void;
  /** The same decision without counting a denial (to filter what ListKeys shows). */
  permits(operation: Operation, keyId: string): boolean;
  /**
   * Throws like authorize() unless the policy grants `operation` on at least one key:
   * for calls that name no key yet (ListKeys; CombineKeyEscrow before it reads shares).
   */
  authorizeAny(operation: Operation): void;
}

/** The identity side of one accepted connection, as the transport uses it. */
export interface ConnectionCallers {
  /** The identity of the connecting process (before any bearer token). */
  readonly identity: CallerIdentity;
  /**
   * The caller of one call on this connection. `authorization` is the raw metadata
   * value (mesh sidecar mode); a bad token throws KeywardError 'unauthenticated'.
   */
  callerFor(authorization: string | undefined): Caller | Promise<Caller>;
  /**
   * Re-checks, after a call and before its response leaves, that the pid still belongs
   * to the process that connected (its start time): a recycled pid cannot lend its
   * identity to whoever holds the connection now. Throws 'permission-denied' if not.
   */
  recheck(caller: Caller): void;
}

/** Turns the peer of an accepted connection into callers (implemented by authz). */
export interface CallerSource {
  /** At accept. Throws KeywardError 'unauthenticated' when the process cannot be identified. */
  connect(peer: PeerCredentials, plane: 'data' | 'admin', process?: PeerProcess): ConnectionCallers;
}
