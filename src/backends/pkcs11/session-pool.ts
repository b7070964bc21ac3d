// The logged-in sessions of one backend on its token. A PKCS#11 session runs one
// operation at a time, so every operation leases a session of its own and waiters queue
// in order. When the token fails (the backend reports a fault), the pool stops handing
// out sessions — calls fail fast with `unavailable` — and reopens in the background with
// capped exponential backoff, re-initializing the library when reopening sessions alone
// does not bring the token back. Nothing here ever throws out of a timer.
import pkcs11js from 'pkcs11js';
import { KeywardError } from '../../core/keyward-error.js';
import type { Logger } from '../../core/logger.js';
import { ckrCode, ckrName } from './pkcs11-errors.js';
import type { Pkcs11Module } from './pkcs11-module.js';
import type { ReconnectBackoff } from './reconnect-backoff.js';

type Handle = pkcs11js.Handle;

/** setTimeout/clearTimeout, injectable so tests control time. */
export interface PoolTimers {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export interface SessionPoolOptions {
  readonly module: Pkcs11Module;
  readonly size: number;
  /** How messages name the token, e.g. `token "keyward"`. */
  readonly tokenName: string;
  /** Finds the token's slot; called at open and at every reconnection. Throws KeywardError. */
  readonly findSlot: () => Handle;
  /** Logs the user in on a fresh session. Throws KeywardError (never with the PIN in it). */
  readonly login: (session: Handle, slot: Handle) => void;
  readonly backoff: ReconnectBackoff;
  readonly logger: Logger;
  readonly timers?: PoolTimers;
  /**
   * How long a call waits for a free session before it is refused with `unavailable`
   * (a hung token must not queue calls without bound). Default 10 s.
   */
  readonly maxWaitMs?: number;
  /** Called after a reconnection: object handles found before it are void. */
  readonly onReconnected?: () => void;
}

interface Waiter {
  resolve(session: Handle): void;
  reject(err: unknown): void;
}

type State = 'new' | 'ready' | 'broken' | 'closed';

const defaultTimers: PoolTimers = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

export class SessionPool {
  readonly #o: SessionPoolOptions;
  readonly #api: pkcs11js.PKCS11;
  readonly #timers: PoolTimers;
  #state: State = 'new';
  #slot: Handle | undefined;
  /** The module generation the current sessions belong to. */
  #generation = -1;
  #idle: Handle[] = [];
  readonly #leased = new Set<Handle>();
  #waiters: Waiter[] = [];
  #drainWaiters: Array<() => void> = [];
  #timer: unknown;
  #unsubscribe: (() => void) | undefined;
  #lastFault = '';

  constructor(options: SessionPoolOptions) {
    if (!Number.isInteger(options.size) || options.size < 1) throw new RangeError('a session pool needs at least one session');
    this.#o = options;
    this.#api = options.module.api;
    this.#timers = options.timers ?? defaultTimers;
  }

  /** Opens the sessions and logs in. Throws the KeywardError that says what failed. */
  open(): void {
    if (this.#state !== 'new') throw new Error('SessionPool.open called twice');
    this.#openSessions();
    this.#state = 'ready';
    this.#unsubscribe = this.#o.module.onReset(() => this.#onModuleReset());
  }

  /** True while sessions are open and logged in, as far as the pool knows. */
  get ready(): boolean {
    return this.#state === 'ready' && this.#o.module.ready && this.#generation === this.#o.module.generation;
  }

  /** The slot of the token (valid once open). */
  get slot(): Handle {
    if (this.#slot === undefined) throw new KeywardError('unavailable', `${this.#o.tokenName} is not open`);
    return this.#slot;
  }

  /** The module generation the sessions belong to (object handles are valid within it). */
  get generation(): number {
    return this.#generation;
  }

  /**
   * Runs `fn` with a session of its own. A session whose operation failed with a PKCS#11
   * error is replaced by a fresh one, so no half-finished operation leaks into the next
   * call. Fails fast with `unavailable` while the token is being reopened.
   */
  async use<T>(fn: (session: Handle) => Promise<T>): Promise<T> {
    const session = await this.#acquire();
    const generation = this.#generation;
    let pkcs11Failure = false;
    try {
      return await this.#o.module.run(() => fn(session));
    } catch (err) {
      pkcs11Failure = ckrCode(err) !== undefined;
      throw err;
    } finally {
      this.#giveBack(session, generation, pkcs11Failure);
    }
  }

  /** Asks the token whether it is still there (C_GetTokenInfo), without a session. */
  probe(): boolean {
    if (this.#slot === undefined || !this.#o.module.ready) return false;
    try {
      this.#api.C_GetTokenInfo(this.#slot);
      return true;
    } catch {
      return false;
    }
  }

  /**
   * The token failed: stop serving, reject the queue, and reopen in the background.
   * Idempotent while a reconnection is pending.
   */
  fault(cause: unknown): void {
    if (this.#state !== 'ready') return;
    this.#state = 'broken';
    this.#lastFault = ckrName(cause);
    this.#o.logger.warn(
      { event: 'pkcs11.token_unreachable', error: this.#lastFault },
      `${this.#o.tokenName} is unreachable (${this.#lastFault}); reopening its sessions with backoff`,
    );
    this.#rejectWaiters();
    this.#discardIdle();
    this.#schedule();
  }

  /** Rejects the queue, waits for leased sessions to come back, closes every session. */
  async close(): Promise<void> {
    if (this.#state === 'closed') return;
    this.#state = 'closed';
    if (this.#timer !== undefined) this.#timers.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#unsubscribe?.();
    this.#rejectWaiters();
    await this.#leasesReturned();
    this.#discardIdle();
  }

  #unavailable(): KeywardError {
    if (this.#state === 'closed') return new KeywardError('unavailable', `${this.#o.tokenName}: the backend is closed`);
    return new KeywardError(
      'unavailable',
      `${this.#o.tokenName} is unreachable${this.#lastFault ? ` (${this.#lastFault})` : ''}; reconnecting`,
    );
  }

  #acquire(): Promise<Handle> {
    if (!this.ready) return Promise.reject(this.#unavailable());
    const session = this.#idle.pop();
    if (session !== undefined) {
      this.#leased.add(session);
      return Promise.resolve(session);
    }
    return new Promise<Handle>((resolve, reject) => {
      const maxWaitMs = this.#o.maxWaitMs ?? 10_000;
      const waiter: Waiter = {
        resolve: (handle) => {
          this.#timers.clearTimeout(timer);
          resolve(handle);
        },
        reject: (err) => {
          this.#timers.clearTimeout(timer);
          reject(err);
        },
      };
      const timer = this.#timers.setTimeout(() => {
        const at = this.#waiters.indexOf(waiter);
        if (at >= 0) this.#waiters.splice(at, 1);
        reject(new KeywardError('unavailable', `${this.#o.tokenName}: no free session within ${maxWaitMs} ms`));
      }, maxWaitMs);
      this.#waiters.push(waiter);
    });
  }

  #giveBack(session: Handle, generation: number, pkcs11Failure: boolean): void {
    this.#leased.delete(session);
    let next: Handle | undefined = session;
    if (generation !== this.#generation || this.#state !== 'ready') {
      // A session of a discarded generation (or a pool that is closing): close it if the
      // library still knows it, and never hand it out again.
      this.#closeSession(session, generation);
      next = undefined;
    } else if (pkcs11Failure) {
      try {
        // Open the replacement first: closing a process's last session logs it out.
        next = this.#api.C_OpenSession(this.slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION);
      } catch (err) {
        next = undefined;
        this.fault(err);
      }
      this.#closeSession(session, generation);
    }
    if (next !== undefined) {
      const waiter = this.#waiters.shift();
      if (waiter !== undefined) {
        this.#leased.add(next);
        waiter.resolve(next);
      } else {
        this.#idle.push(next);
      }
    }
    if (this.#leased.size === 0) for (const wake of this.#drainWaiters.splice(0)) wake();
  }

  #closeSession(session: Handle, generation: number): void {
    if (generation !== this.#o.module.generation || !this.#o.module.ready) return;
    try {
      this.#api.C_CloseSession(session);
    } catch {
      // The session died with the token; nothing to close.
    }
  }

  #discardIdle(): void {
    for (const session of this.#idle.splice(0)) this.#closeSession(session, this.#generation);
  }

  #rejectWaiters(): void {
    const err = this.#unavailable();
    for (const waiter of this.#waiters.splice(0)) waiter.reject(err);
  }

  #leasesReturned(): Promise<void> {
    if (this.#leased.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Opens `size` sessions on the token and logs in on the first; all or nothing. */
  #openSessions(): void {
    const slot = this.#o.findSlot();
    const generation = this.#o.module.generation;
    const opened: Handle[] = [];
    try {
      for (let i = 0; i < this.#o.size; i++) {
        opened.push(this.#api.C_OpenSession(slot, pkcs11js.CKF_SERIAL_SESSION | pkcs11js.CKF_RW_SESSION));
      }
      this.#o.login(opened[0]!, slot);
    } catch (err) {
      for (const session of opened) {
        try {
          this.#api.C_CloseSession(session);
        } catch {
          // Best effort.
        }
      }
      if (err instanceof KeywardError) throw err;
      throw new KeywardError('unavailable', `cannot open a session on ${this.#o.tokenName}: ${ckrName(err)}`, { cause: err });
    }
    this.#slot = slot;
    this.#generation = generation;
    this.#idle = opened;
  }

  #onModuleReset(): void {
    // Every session and handle of the old generation died with C_Finalize.
    this.#idle = [];
    if (this.#state === 'ready') {
      this.#state = 'broken';
      this.#lastFault = 'the PKCS#11 library was re-initialized';
      this.#rejectWaiters();
      this.#schedule(0);
    }
  }

  #schedule(delayMs?: number): void {
    if (this.#state === 'closed' || this.#timer !== undefined) return;
    const delay = delayMs ?? this.#o.backoff.next();
    this.#timer = this.#timers.setTimeout(() => {
      this.#timer = undefined;
      this.#reconnect().catch(() => undefined);
    }, delay);
    (this.#timer as { unref?: () => void } | undefined)?.unref?.();
  }

  async #reconnect(): Promise<void> {
    if (this.#state !== 'broken') return;
    try {
      await this.#leasesReturned();
      if (this.#state !== 'broken') return;
      this.#discardIdle();
      if (!this.#reopenSessions()) {
        // The library itself holds stale token state (SoftHSM after its token directory
        // vanished): finalize and initialize it again, then reopen.
        await this.#o.module.reset(this.#o.module.generation);
        if (this.#state !== 'broken') return;
        this.#idle = [];
        this.#openSessions();
        if (!this.probe()) throw new KeywardError('unavailable', `${this.#o.tokenName} does not answer C_GetTokenInfo`);
      }
      this.#state = 'ready';
      this.#lastFault = '';
      this.#o.backoff.reset();
      this.#o.logger.info({ event: 'pkcs11.token_reachable' }, `${this.#o.tokenName} is reachable again; sessions reopened`);
      this.#o.onReconnected?.();
    } catch (err) {
      if (this.#state !== 'broken') return;
      this.#o.logger.warn(
        { event: 'pkcs11.reconnect_failed', attempt: this.#o.backoff.attempts, error: err instanceof KeywardError ? err.message : ckrName(err) },
        `reopening ${this.#o.tokenName} failed; retrying with backoff`,
      );
      this.#schedule();
    }
  }

  /** Reopens sessions without touching the library; false when the token does not answer. */
  #reopenSessions(): boolean {
    if (!this.#o.module.ready) return false;
    try {
      this.#openSessions();
    } catch {
      return false;
    }
    if (this.probe()) return true;
    this.#discardIdle();
    return false;
  }
}
