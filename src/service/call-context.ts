// What a use case knows about the call beyond its request: who is calling (peer
// credentials once the authorization layer lands) and when to give up.

export interface PeerCredentials {
  readonly pid: number;
  readonly uid: number;
  readonly gid: number;
}

/** What a call touched, for its audit span: filled in by the use case as it goes. */
export interface CallFacts {
  keyId?: string;
  keyVersion?: number;
  /** The backend instance that holds the key. */
  backend?: string;
  /** Whether the DEK came from the cache (Encrypt/Decrypt family). */
  cacheHit?: boolean;
  batchSize?: number;
}

export interface CallContext {
  /** The RPC method, e.g. "Encrypt". */
  readonly method: string;
  /** The peer of the connection, when the transport could read it. */
  readonly peer?: PeerCredentials;
  /** Aborted when the caller cancels or the deadline passes. */
  readonly signal?: AbortSignal;
  /** Filled in by the use case; read by the audit span once the call ends. */
  readonly facts?: CallFacts;
}

/** Records the key a call used (the last one wins: ReEncrypt records its destination). */
export function noteKey(ctx: CallContext, keyId: string, keyVersion: number, backend: string, cacheHit?: boolean): void {
  if (ctx.facts === undefined) return;
  ctx.facts.keyId = keyId;
  ctx.facts.keyVersion = keyVersion;
  ctx.facts.backend = backend;
  if (cacheHit !== undefined) ctx.facts.cacheHit = cacheHit;
}
