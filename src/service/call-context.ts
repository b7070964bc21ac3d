// What a use case knows about the call beyond its request: who is calling (peer
// credentials once the authorization layer lands) and when to give up.

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

export interface CallContext {
  /** The RPC method, e.g. "Encrypt". */
  readonly method: string;
  /** The peer of the connection, when the transport could read it. */
  readonly peer?: PeerCredentials;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal?: AbortSignal;
}
