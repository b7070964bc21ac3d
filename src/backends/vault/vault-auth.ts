// The Vault backend's token: obtained by the configured method (a token file, AppRole,
// Kubernetes), renewed before it expires (renew-self at two thirds of its TTL), obtained
// again when renewal fails or the token nears its max TTL, and recovered when Vault
// refuses it (403: if lookup-self says the token is dead, log in again). Every timer and
// background step catches its errors: an expired token or an unreachable Vault never
// crashes the daemon, and calls the DEK cache can serve never wait on any of this.
// No token, secret_id or JWT is ever logged or put into an error message.
import { KeywardError } from '../../core/keyward-error.js';
import type { Logger } from '../../core/logger.js';
import type { SecretRedactor } from './secret-redactor.js';
import { describeSource, readSecret } from './secret-source.js';
import { sleep, type Timing } from './timing.js';
import type { VaultAuthSettings } from './vault-backend-settings.js';
import type { VaultRequester } from './vault-requester.js';
import { VaultRequestError } from './vault-request-error.js';

/** Renew (or log in again) when this fraction of the token's TTL has passed. */
const RENEW_AT = 2 / 3;
/** Shortest wait between renewal or login attempts while Vault fails, and the longest. */
const MIN_RETRY_MS = 500;
const MAX_RETRY_MS = 30_000;
/** After lookup-self said a token is fine despite a 403 on a path, 403s on that path within this window are policy denials. */
const DENIAL_REMEMBERED_MS = 5_000;
/** The longest close() waits to revoke the token it logged in for. */
const REVOKE_BUDGET_MS = 2_000;
/** A run of failed logins is logged at its start and then at most this often. */
const LOGIN_FAILURE_LOG_MS = 30_000;

interface TokenState {
  readonly token: string;
  /** Epoch ms when it expires; 0 for never (root-like tokens). */
  expiresAt: number;
  leaseSeconds: number;
  renewable: boolean;
  /** Obtained by a login (AppRole, Kubernetes), so we may revoke it and log in again. */
  readonly fromLogin: boolean;
  /** Paths Vault denied to this token while lookup-self said it was alive, and when. */
  readonly deniedPaths: Map<string, number>;
}

/** Why no token could be obtained. */
export class VaultAuthError extends Error {
  override readonly name = 'VaultAuthError';
  /** 'rejected': Vault refused the credentials; 'source': they could not be read; 'unreachable': Vault did not answer. */
  readonly kind: 'rejected' | 'source' | 'unreachable';

  constructor(kind: VaultAuthError['kind'], message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.kind = kind;
  }
}

export interface VaultAuthOptions {
  readonly settings: VaultAuthSettings;
  readonly requester: VaultRequester;
  readonly timing: Timing;
  readonly logger: Logger;
  readonly redactor: SecretRedactor;
}

export class VaultAuth {
  readonly #options: VaultAuthOptions;
  #state: TokenState | undefined;
  #login: Promise<TokenState> | undefined;
  #recovering: Promise<boolean> | undefined;
  #cancelTimer: (() => void) | undefined;
  #retryDelay = MIN_RETRY_MS;
  #stopped = false;
  /** Incremented by every successful login: a retry scheduled before one is moot. */
  #generation = 0;
  #loginFailureLoggedAt = Number.NEGATIVE_INFINITY;
  /** Logins (and token file re-reads) done: for tests. */
  logins = 0;
  renewals = 0;

  constructor(options: VaultAuthOptions) {
    this.#options = options;
  }

  get method(): VaultAuthSettings['method'] {
    return this.#options.settings.method;
  }

  /** Whether a token that has not expired yet is at hand. */
  get hasToken(): boolean {
    const s = this.#state;
    return s !== undefined && (s.expiresAt === 0 || s.expiresAt > this.#options.timing.now());
  }

  /** The first login (open). */
  async start(): Promise<void> {
    await this.#obtain('start');
  }

  /** The token to send, logging in first when there is none. */
  async token(): Promise<string> {
    if (this.#stopped) throw new VaultAuthError('unreachable', 'the Vault backend is closed');
    const state = this.#state;
    if (state === undefined) return (await this.#obtain('no token')).token;
    // A token we know has expired would only earn a 403: replace it first.
    if (state.expiresAt !== 0 && state.expiresAt <= this.#options.timing.now()) return (await this.#obtain('token expired')).token;
    return state.token;
  }

  /**
   * Vault answered 403 to a request on `path` sent with `rejected`. Resolves true when a
   * different token is now available (retry the request once), false when `rejected` is
   * still valid — the 403 is a policy denial, and logging in again would not help.
   */
  recover(rejected: string, path: string): Promise<boolean> {
    const state = this.#state;
    if (state !== undefined && state.token !== rejected) return Promise.resolve(true);
    const deniedAt = state?.deniedPaths.get(path);
    if (deniedAt !== undefined && this.#options.timing.now() - deniedAt < DENIAL_REMEMBERED_MS) return Promise.resolve(false);
    this.#recovering ??= this.#recover(rejected, path).finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async #recover(rejected: string, path: string): Promise<boolean> {
    const state = this.#state;
    if (state !== undefined && state.token === rejected) {
      const alive = await this.#lookup(rejected).then(
        (found) => found,
        (err: unknown) => {
          if (err instanceof VaultRequestError && err.kind === 'http' && err.status === 403) return undefined;
          throw new VaultAuthError('unreachable', `cannot check the Vault token: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
        },
      );
      if (alive !== undefined) {
        state.deniedPaths.set(path, this.#options.timing.now());
        this.#apply(state, alive);
        return false;
      }
    }
    this.#options.logger.warn({ event: 'vault.token.rejected', method: this.method }, 'Vault refused the token: obtaining a new one');
    const next = await this.#obtain('token rejected');
    return next.token !== rejected;
  }

  /** Logs in (or re-reads the token), once for concurrent callers. */
  #obtain(reason: string): Promise<TokenState> {
    this.#login ??= this.#doLogin(reason).finally(() => {
      this.#login = undefined;
    });
    return this.#login;
  }

  async #doLogin(reason: string): Promise<TokenState> {
    const { settings, requester, redactor, logger, timing } = this.#options;
    let state: TokenState;
    try {
      if (settings.method === 'token') {
        const token = await this.#read(settings.token, 'Vault token');
        const previous = this.#state;
        if (previous !== undefined && previous.token === token && reason === 'token rejected') {
          throw new VaultAuthError('rejected', `Vault refused the token from ${describeSource(settings.token)}, and it holds no new one`);
        }
        const info = await this.#lookup(token).catch((err: unknown) => {
          throw this.#loginFailure(err, `the token from ${describeSource(settings.token)}`);
        });
        state = { token, expiresAt: 0, leaseSeconds: 0, renewable: false, fromLogin: false, deniedPaths: new Map() };
        this.#apply(state, info);
      } else {
        const body =
          settings.method === 'approle'
            ? { role_id: await this.#read(settings.role_id, 'AppRole role_id'), secret_id: await this.#read(settings.secret_id, 'AppRole secret_id') }
            : { role: settings.role, jwt: await this.#read(settings.jwt, 'Kubernetes service-account token') };
        // Not retried blindly: a login Vault has read may have spent a use of a
        // limited-use secret_id and minted a token; the renewal loop tries again later.
        const answer = await requester.send({ method: 'POST', path: `auth/${settings.mount}/login`, body, retry: 'unsafe' }).catch((err: unknown) => {
          throw this.#loginFailure(err, `${settings.method} login at auth/${settings.mount}`);
        });
        const auth = answer?.['auth'] as { client_token?: unknown; lease_duration?: unknown; renewable?: unknown } | undefined;
        if (typeof auth?.client_token !== 'string' || auth.client_token === '') {
          throw new VaultAuthError('rejected', `${settings.method} login at auth/${settings.mount} returned no token`);
        }
        redactor.add(auth.client_token);
        const lease = typeof auth.lease_duration === 'number' ? auth.lease_duration : 0;
        state = {
          token: auth.client_token,
          leaseSeconds: lease,
          expiresAt: lease > 0 ? timing.now() + lease * 1000 : 0,
          renewable: auth.renewable === true,
          fromLogin: true,
          deniedPaths: new Map(),
        };
      }
    } catch (err) {
      if (!this.#stopped && reason !== 'start') {
        // While Vault is down every call that needs it may try: log the first failure, then now and then.
        if (timing.now() - this.#loginFailureLoggedAt >= LOGIN_FAILURE_LOG_MS) {
          this.#loginFailureLoggedAt = timing.now();
          logger.warn(
            { event: 'vault.login_failed', method: settings.method, reason, error: redactor.clip(err instanceof Error ? err.message : String(err)) },
            'could not obtain a Vault token; will try again',
          );
        }
        this.#scheduleRetryLogin();
      }
      throw err;
    }
    this.logins++;
    this.#generation++;
    this.#loginFailureLoggedAt = Number.NEGATIVE_INFINITY;
    this.#retryDelay = MIN_RETRY_MS;
    const old = this.#state;
    this.#state = state;
    if (old !== undefined && old.fromLogin && old.token !== state.token) void this.#revoke(old.token);
    logger.info(
      { event: 'vault.login', method: settings.method, reason, lease_seconds: state.leaseSeconds, renewable: state.renewable },
      settings.method === 'token' ? 'Vault token loaded' : 'logged in to Vault',
    );
    this.#schedule(state);
    return state;
  }

  async #read(source: Parameters<typeof readSecret>[0], what: string): Promise<string> {
    try {
      const value = await readSecret(source, what);
      this.#options.redactor.add(value);
      return value;
    } catch (err) {
      throw new VaultAuthError('source', err instanceof Error ? err.message : String(err), { cause: err });
    }
  }

  #loginFailure(err: unknown, what: string): VaultAuthError {
    if (err instanceof VaultRequestError && err.kind === 'http' && err.status !== undefined && err.status < 500) {
      return new VaultAuthError('rejected', `Vault refused ${what} (${err.status}: ${err.detail})`, { cause: err });
    }
    return new VaultAuthError('unreachable', `Vault did not answer ${what}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }

  /** lookup-self's data for `token`. */
  async #lookup(token: string): Promise<Record<string, unknown>> {
    const answer = await this.#options.requester.send({ method: 'GET', path: 'auth/token/lookup-self', token });
    const data = answer?.['data'];
    if (data === null || typeof data !== 'object') throw new VaultRequestError('protocol', 'GET auth/token/lookup-self: no data in the answer');
    return data as Record<string, unknown>;
  }

  /** Takes the TTL and renewability from lookup-self data. */
  #apply(state: TokenState, data: Record<string, unknown>): void {
    const ttl = typeof data['ttl'] === 'number' ? data['ttl'] : 0;
    state.leaseSeconds = ttl;
    state.expiresAt = ttl > 0 ? this.#options.timing.now() + ttl * 1000 : 0;
    state.renewable = data['renewable'] === true;
  }

  // --- background renewal --------------------------------------------------------------

  #schedule(state: TokenState): void {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#stopped || state.expiresAt === 0) return;
    const remaining = state.expiresAt - this.#options.timing.now();
    const delay = Math.max(MIN_RETRY_MS, remaining * RENEW_AT);
    this.#cancelTimer = this.#options.timing.schedule(() => void this.#refresh(state), delay);
  }

  /** Renews the token if it can be renewed; otherwise logs in again (or re-reads the file). */
  async #refresh(state: TokenState): Promise<void> {
    if (this.#stopped || this.#state !== state) return;
    try {
      if (state.renewable) await this.#renew(state);
      else await this.#obtain('token expiring');
    } catch (err) {
      this.#options.logger.warn(
        { event: 'vault.token.refresh_failed', method: this.method, error: this.#options.redactor.clip(err instanceof Error ? err.message : String(err)) },
        'could not renew the Vault token; will try again',
      );
      // #obtain schedules its own retry; a failed renewal retries (or logs in) here.
      if (this.#state === state && state.renewable) this.#scheduleRetryRenew(state);
    }
  }

  async #renew(state: TokenState): Promise<void> {
    const { requester, timing, logger } = this.#options;
    let answer: Record<string, unknown> | undefined;
    try {
      answer = await requester.send({ method: 'POST', path: 'auth/token/renew-self', body: {}, token: state.token });
    } catch (err) {
      if (err instanceof VaultRequestError && err.kind === 'http' && (err.status ?? 0) < 500) {
        // Vault refuses to renew this token (revoked, expired, not renewable): a new one.
        logger.warn({ event: 'vault.token.renew_refused', status: err.status }, 'Vault refused to renew the token: obtaining a new one');
        state.renewable = false;
        await this.#obtain('renewal refused');
        return;
      }
      throw err;
    }
    const auth = answer?.['auth'] as { lease_duration?: unknown; renewable?: unknown } | undefined;
    const lease = typeof auth?.lease_duration === 'number' ? auth.lease_duration : 0;
    const warnings = Array.isArray(answer?.['warnings']) ? (answer['warnings'] as unknown[]) : [];
    // Vault warns when the max TTL caps a renewal; a lease that shrank (or vanished) says the same.
    const capped =
      lease === 0 ||
      warnings.some((w) => typeof w === 'string' && /max_ttl/i.test(w)) ||
      (state.leaseSeconds > 0 && lease < state.leaseSeconds / 2);
    this.renewals++;
    this.#retryDelay = MIN_RETRY_MS;
    state.expiresAt = lease > 0 ? timing.now() + lease * 1000 : state.expiresAt;
    state.renewable = auth?.renewable === true && !(capped && state.fromLogin);
    if (!capped) state.leaseSeconds = lease;
    logger.debug({ event: 'vault.token.renewed', lease_seconds: lease, near_max_ttl: capped }, 'Vault token renewed');
    // Near the max TTL, renewals stop adding time: log in again before it ends instead.
    this.#schedule(state);
  }

  #scheduleRetryRenew(state: TokenState): void {
    const { timing } = this.#options;
    const delay = this.#nextRetryDelay();
    this.#cancelTimer?.();
    this.#cancelTimer = timing.schedule(() => {
      if (this.#state !== state || this.#stopped) return;
      // Past expiry, renewing is pointless: log in again (or re-read the token file).
      if (state.expiresAt !== 0 && state.expiresAt <= timing.now()) {
        void this.#obtain('token expired').catch(() => undefined);
      } else {
        void this.#refresh(state);
      }
    }, delay);
  }

  /** After a failed login at run time: try again with backoff, until one succeeds. */
  #scheduleRetryLogin(): void {
    const generation = this.#generation;
    const delay = this.#nextRetryDelay();
    this.#cancelTimer?.();
    this.#cancelTimer = this.#options.timing.schedule(() => {
      if (this.#stopped || this.#generation !== generation) return;
      void this.#obtain('retry').catch(() => undefined);
    }, delay);
  }

  #nextRetryDelay(): number {
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(MAX_RETRY_MS, this.#retryDelay * 2);
    return Math.round(delay / 2 + this.#options.timing.random() * (delay / 2));
  }

  async #revoke(token: string): Promise<void> {
    try {
      await this.#options.requester.send({ method: 'POST', path: 'auth/token/revoke-self', body: {}, token, retry: 'unsafe' });
    } catch {
      // Best effort: the token expires by itself.
    }
  }

  /** Stops renewing; revokes a token we logged in for (best effort, bounded by the request timeout). */
  async stop(): Promise<void> {
    this.#stopped = true;
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    const state = this.#state;
    if (state?.fromLogin && this.hasToken && this.#options.requester.breakerState !== 'open') {
      await Promise.race([this.#revoke(state.token), sleep(this.#options.timing, REVOKE_BUDGET_MS)]);
    }
  }
}

/** The KeywardError for a failed login, at start (the daemon refuses to start) or later. */
export function authErrorToKeyward(err: VaultAuthError, backend: string, atStart: boolean): KeywardError {
  const message = `vault backend "${backend}": ${err.message}`;
  if (err.kind === 'unreachable') return new KeywardError('unavailable', message, { cause: err });
  return new KeywardError(atStart ? 'failed-precondition' : 'unavailable', message, { cause: err });
}
