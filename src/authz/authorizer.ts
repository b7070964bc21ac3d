// Turns accepted connections into callers: SO_PEERCRED from the transport, /proc facts
// read once at accept (executable, container, pod), an optional bearer token per call,
// and the current policy — which SIGHUP replaces without touching connections. Every
// denial and every failed authentication is counted per identity for the alert.
import {
  DenialReason,
  type Caller,
  type CallerIdentity,
  type CallerSource,
  type ConnectionCallers,
  type PeerCredentials,
  type PeerProcess,
} from '../core/caller.js';
import { KeywardError } from '../core/keyward-error.js';
import type { AccessPolicy, Grants } from './access-policy.js';
import type { TokenIdentity } from './bearer-token-verifier.js';
import type { FailedAttempt } from './failed-attempt-monitor.js';
import type { ProcessInspector } from './process-inspector.js';
import { denied, PolicyCaller } from './policy-caller.js';

/** What the authorizer needs of /proc (tests give it fakes). */
export type ProcessFactsSource = Pick<ProcessInspector, 'inspect' | 'startTime'>;

/** A verified token, as far as the authorizer reads it. */
export type TokenFacts = Pick<TokenIdentity, 'subject' | 'namespace' | 'serviceAccount' | 'podUid' | 'claims'>;

/** What the authorizer needs of the bearer token verifier (tests give it fakes). */
export interface TokenVerifier {
  verify(authorization: string): Promise<TokenFacts>;
}

export interface AuthorizerOptions {
  readonly policy: AccessPolicy;
  readonly processes: ProcessFactsSource;
  /** Mesh sidecar mode: verify `authorization: Bearer …` on the data plane. */
  readonly tokens?: { readonly verifier: TokenVerifier; readonly required: boolean };
  /** Every denied or unauthenticated attempt (for the failed-attempt alert). */
  readonly onFailure: (attempt: FailedAttempt) => void;
  /**
   * How each call re-checks the connecting process: through its pidfd when the
   * transport has one (default), or always by re-reading its start time in /proc
   * (tests that simulate pid reuse with a fixture /proc).
   */
  readonly recheckBy?: 'pidfd' | 'start-time';
}

/** The subject of a caller without a token: its uid, and its pod or container if known. */
function peerSubject(peer: PeerCredentials, podUid?: string, containerId?: string): string {
  if (podUid !== undefined) return `uid:${peer.uid}@pod:${podUid}`;
  if (containerId !== undefined) return `uid:${peer.uid}@container:${containerId.slice(0, 12)}`;
  return `uid:${peer.uid}`;
}

export class Authorizer implements CallerSource {
  #policy: AccessPolicy;
  #tokens: AuthorizerOptions['tokens'];
  readonly #options: AuthorizerOptions;

  constructor(options: AuthorizerOptions) {
    this.#options = options;
    this.#policy = options.policy;
    this.#tokens = options.tokens;
  }

  get policy(): AccessPolicy {
    return this.#policy;
  }

  /**
   * SIGHUP: calls after this one are decided by the new policy (and token settings);
   * connections stay open.
   */
  replace(policy: AccessPolicy, tokens: AuthorizerOptions['tokens']): void {
    this.#policy = policy;
    this.#tokens = tokens;
  }

  /** Internal to the connections: the token settings of the data plane now. */
  get tokens(): AuthorizerOptions['tokens'] {
    return this.#tokens;
  }

  connect(peer: PeerCredentials, plane: 'data' | 'admin', process?: PeerProcess): ConnectionCallers {
    // pid 0: the peer lives in a pid namespace this daemon cannot see (no hostPID);
    // it is known by uid and gid only, and nothing can be re-checked.
    let alive: (() => boolean) | undefined;
    let facts: ReturnType<ProcessFactsSource['inspect']>;
    if (peer.pid > 0) {
      facts = this.#options.processes.inspect(peer.pid);
      // With a pidfd: the process was alive after /proc was read, so the facts are its
      // own (its pid cannot have been reused while it lives).
      if (facts !== undefined && process !== undefined && this.#options.recheckBy !== 'start-time') {
        alive = () => !process.exited();
      } else if (facts !== undefined && (facts.uid === undefined || facts.uid === peer.uid)) {
        // Without a pidfd the pid may already belong to another process at accept: its
        // uid must at least be the one the kernel recorded at connect(2).
        const startTime = facts.startTime;
        alive = () => this.#options.processes.startTime(peer.pid) === startTime;
      }
      if (facts === undefined || alive === undefined || !alive()) {
        const reason = `the connecting process (pid ${peer.pid}) was gone, or replaced by another process, before it could be identified`;
        this.#options.onFailure({ subject: peerSubject(peer), operation: 'connect', keyId: '', reason });
        throw new KeywardError('unauthenticated', 'caller not identified', { cause: new DenialReason(reason) });
      }
    }
    const identity: CallerIdentity = {
      peer,
      ...(facts?.exe !== undefined ? { exe: facts.exe, exeVerified: facts.exeInDaemonNamespace === true } : {}),
      ...(facts?.containerId !== undefined ? { containerId: facts.containerId } : {}),
      ...(facts?.podUid !== undefined ? { podUid: facts.podUid } : {}),
      subject: peerSubject(peer, facts?.podUid, facts?.containerId),
    };
    return new ConnectionIdentity(this, identity, alive, plane);
  }

  /** Internal to the connections: callers for an identity under the current policy. */
  callerOf(identity: CallerIdentity, grants: Grants): Caller {
    return new PolicyCaller(identity, grants, this.#options.onFailure);
  }

  /** Internal to the connections: a failed attempt that is not a policy decision. */
  failed(attempt: FailedAttempt): void {
    this.#options.onFailure(attempt);
  }

}

/** Tokens seen on one connection, remembered with their caller (the verifier returns one object per cached token). */
const MAX_TOKEN_CALLERS_PER_CONNECTION = 64;

class ConnectionIdentity implements ConnectionCallers {
  readonly #authorizer: Authorizer;
  readonly #identity: CallerIdentity;
  /** Whether the process that connected still runs under its pid; undefined: cannot tell (pid 0). */
  readonly #alive: (() => boolean) | undefined;
  readonly #plane: 'data' | 'admin';
  #policy: AccessPolicy | undefined;
  #caller: Caller | undefined;
  #tokenCallers = new Map<TokenFacts, Caller>();

  constructor(authorizer: Authorizer, identity: CallerIdentity, alive: (() => boolean) | undefined, plane: 'data' | 'admin') {
    this.#authorizer = authorizer;
    this.#identity = identity;
    this.#alive = alive;
    this.#plane = plane;
  }

  get identity(): CallerIdentity {
    return this.#identity;
  }

  callerFor(authorization: string | undefined): Caller | Promise<Caller> {
    this.#followPolicy();
    // Without token verification configured (and always on the admin socket), metadata
    // is not an identity: ignored.
    const tokens = this.#plane === 'data' ? this.#authorizer.tokens : undefined;
    if (tokens === undefined) return (this.#caller ??= this.#authorizer.callerOf(this.#identity, this.#authorizer.policy.grantsFor(this.#identity)));
    if (authorization === undefined) {
      if (tokens.required) throw this.#unauthenticated('no bearer token and bearer_token.required is set', undefined, 'bearer token required');
      return (this.#caller ??= this.#authorizer.callerOf(this.#identity, this.#authorizer.policy.grantsFor(this.#identity)));
    }
    return this.#tokenCaller(tokens.verifier, authorization);
  }

  async #tokenCaller(verifier: TokenVerifier, authorization: string): Promise<Caller> {
    let token: TokenFacts;
    try {
      token = await verifier.verify(authorization);
    } catch (err) {
      throw this.#unauthenticated(`bearer token refused: ${err instanceof Error && err.cause instanceof Error ? err.cause.message : String(err)}`, err);
    }
    this.#followPolicy();
    const known = this.#tokenCallers.get(token);
    if (known !== undefined) return known;
    // A token bound to a pod must come from that pod when the cgroup says which pod calls.
    if (token.podUid !== undefined && this.#identity.podUid !== undefined && token.podUid.toLowerCase() !== this.#identity.podUid) {
      throw this.#unauthenticated(`bearer token of pod ${token.podUid} presented from pod ${this.#identity.podUid}`);
    }
    const identity: CallerIdentity = {
      ...this.#identity,
      ...(token.namespace !== undefined ? { namespace: token.namespace } : {}),
      ...(token.serviceAccount !== undefined ? { serviceAccount: token.serviceAccount } : {}),
      ...(this.#identity.podUid === undefined && token.podUid !== undefined ? { podUid: token.podUid.toLowerCase() } : {}),
      claims: token.claims,
      subject: token.subject,
    };
    const caller = this.#authorizer.callerOf(identity, this.#authorizer.policy.grantsFor(identity));
    if (this.#tokenCallers.size >= MAX_TOKEN_CALLERS_PER_CONNECTION) this.#tokenCallers.clear();
    this.#tokenCallers.set(token, caller);
    return caller;
  }

  recheck(caller: Caller): void {
    if (this.#alive === undefined || this.#alive()) return;
    const pid = this.#identity.peer.pid;
    const reason = `the process that connected (pid ${pid}) is gone or its pid now belongs to another process`;
    this.#authorizer.failed({ subject: caller.identity.subject, operation: 'recheck', keyId: '', reason });
    throw denied(reason);
  }

  /** Callers made under an older policy are dropped: the next call gets current grants. */
  #followPolicy(): void {
    const policy = this.#authorizer.policy;
    if (this.#policy === policy) return;
    this.#policy = policy;
    this.#caller = undefined;
    this.#tokenCallers = new Map();
  }

  #unauthenticated(reason: string, cause?: unknown, message = 'invalid bearer token'): KeywardError {
    this.#authorizer.failed({ subject: this.#identity.subject, operation: 'authenticate', keyId: '', reason });
    return new KeywardError('unauthenticated', message, { cause: new DenialReason(reason, { cause }) });
  }
}
