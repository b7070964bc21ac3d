// One loaded and initialized PKCS#11 library per process and path, shared by every
// backend instance that names it. C_Initialize and C_Finalize are process-wide for a
// library: a second backend on the same module must not initialize it again, and the
// first one closing must not finalize it under the other's feet. So this file counts
// users, counts operations in flight, and finalizes only when both reach zero — never
// with an operation in flight (that crashes the process, design.md §8). It is also the
// only place that can re-initialize the library: SoftHSM re-reads a token directory that
// vanished and came back only after C_Finalize + C_Initialize.
import { existsSync, realpathSync } from 'node:fs';
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import pkcs11js from 'pkcs11js';
import { KeywardError } from '../../core/keyward-error.js';
import { ckrCode, ckrName } from './pkcs11-errors.js';

type State = 'ready' | 'resetting' | 'uninitialized' | 'finalized';

const modules = new Map<string, Pkcs11Module>();
/** Acquisitions wait for a module of the same path that is finalizing. */
const finalizing = new Map<string, Promise<void>>();

export class Pkcs11Module {
  /** The library path as configured. */
  readonly path: string;
  /** The pkcs11js binding; call it only inside run() or while holding a session lease. */
  readonly api: pkcs11js.PKCS11;
  readonly #key: string;
  #state: State = 'uninitialized';
  #users = 0;
  #inFlight = 0;
  #drainWaiters: Array<() => void> = [];
  #creating = 0;
  #creationWaiters: Array<() => void> = [];
  #generation = 0;
  #reset: Promise<void> | undefined;
  readonly #resetListeners = new Set<() => void>();
  /** Tokens logged in through this module, and a keyed digest of the PIN used. */
  readonly #logins = new Map<string, Buffer>();
  readonly #loginKey = randomBytes(32);
  /** False when someone else had initialized the library: then we never finalize it. */
  #ownsInitialization = true;

  private constructor(path: string, key: string, api: pkcs11js.PKCS11) {
    this.path = path;
    this.#key = key;
    this.api = api;
  }

  /**
   * The shared module for `path`, loaded and initialized (with CKF_OS_LOCKING_OK: the
   * library locks with OS primitives, which concurrent sessions on libuv's threads
   * need). Throws `failed-precondition` naming the path when it cannot be loaded.
   */
  static async acquire(path: string): Promise<Pkcs11Module> {
    if (!existsSync(path)) {
      throw new KeywardError('failed-precondition', `PKCS#11 module ${path} does not exist`);
    }
    const key = realpathSync(path);
    await finalizing.get(key);
    let module = modules.get(key);
    if (module === undefined) {
      const api = new pkcs11js.PKCS11();
      try {
        api.load(path);
      } catch (err) {
        throw new KeywardError('failed-precondition', `cannot load PKCS#11 module ${path}: ${err instanceof Error ? err.message : String(err)}`, {
          cause: err,
        });
      }
      module = new Pkcs11Module(path, key, api);
      module.#initialize();
      modules.set(key, module);
    }
    module.#users++;
    return module;
  }

  /** Bumped by every re-initialization: sessions and object handles of an older one are void. */
  get generation(): number {
    return this.#generation;
  }

  get ready(): boolean {
    return this.#state === 'ready';
  }

  /**
   * Runs one operation against the library, counted so that finalization waits for it.
   * Refuses (`unavailable`) while the library is being re-initialized or is finalized.
   */
  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#state !== 'ready') {
      throw new KeywardError('unavailable', `PKCS#11 module ${this.path} is ${this.#state === 'resetting' ? 're-initializing' : 'not initialized'}`);
    }
    this.#inFlight++;
    try {
      return await fn();
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) for (const wake of this.#drainWaiters.splice(0)) wake();
    }
  }

  /**
   * Runs `fn`, which creates token objects on another thread. SoftHSM's file object store
   * races object creation against C_FindObjectsInit on another session (measured: about
   * 1 in 20 creations failed with CKR_GENERAL_ERROR under concurrent searches), so
   * searches wait for creations (see beforeSearch). A search already under way when a
   * creation starts can still collide (seen in CI: C_GenerateKey → CKR_GENERAL_ERROR), so
   * a creation that fails with CKR_GENERAL_ERROR is tried again, twice at most.
   */
  async creatingObjects<T>(fn: () => Promise<T>): Promise<T> {
    this.#creating++;
    try {
      for (let attempt = 1; ; attempt++) {
        try {
          return await fn();
        } catch (err) {
          if (attempt >= 3 || ckrCode(err) !== pkcs11js.CKR_GENERAL_ERROR) throw err;
          await new Promise((resolve) => setTimeout(resolve, 10 * attempt));
        }
      }
    } finally {
      this.#creating--;
      if (this.#creating === 0) for (const wake of this.#creationWaiters.splice(0)) wake();
    }
  }

  /**
   * Resolves when no object creation is in flight. Search right after it resolves,
   * without awaiting anything else in between.
   */
  async beforeSearch(): Promise<void> {
    while (this.#creating > 0) await new Promise<void>((resolve) => this.#creationWaiters.push(resolve));
  }

  /** Called after every re-initialization (sessions are gone by then). */
  onReset(listener: () => void): () => void {
    this.#resetListeners.add(listener);
    return () => this.#resetListeners.delete(listener);
  }

  /**
   * Finalizes and initializes the library again, once its operations in flight are
   * done. `seenGeneration` is the generation the caller found broken: when someone has
   * re-initialized since, this does nothing.
   */
  reset(seenGeneration: number): Promise<void> {
    if (this.#reset !== undefined) return this.#reset;
    if (seenGeneration !== this.#generation && this.#state === 'ready') return Promise.resolve();
    if (!this.#ownsInitialization) {
      return Promise.reject(new KeywardError('unavailable', `PKCS#11 module ${this.path} was initialized outside keyward; cannot re-initialize it`));
    }
    this.#reset = (async () => {
      this.#state = 'resetting';
      await this.#drained();
      this.#logins.clear();
      try {
        this.api.C_Finalize();
      } catch {
        // A library that lost its token may fail to finalize cleanly; initialize anyway.
      }
      this.#generation++;
      this.#state = 'uninitialized';
      try {
        this.#initialize();
      } finally {
        for (const listener of this.#resetListeners) listener();
      }
    })().finally(() => {
      this.#reset = undefined;
    });
    return this.#reset;
  }

  /**
   * Records a successful login to `tokenKey` with `pin`; when the token was already
   * logged in (PKCS#11 logins are per application, so a second backend on the same
   * token gets CKR_USER_ALREADY_LOGGED_IN without its PIN being checked), tells whether
   * `pin` is the PIN that logged in. Returns false on a mismatch.
   */
  checkLogin(tokenKey: string, pin: Buffer, alreadyLoggedIn: boolean): boolean {
    const digest = createHmac('sha256', this.#loginKey).update(pin).digest();
    const known = this.#logins.get(tokenKey);
    if (!alreadyLoggedIn || known === undefined) {
      this.#logins.set(tokenKey, digest);
      return true;
    }
    return timingSafeEqual(known, digest);
  }

  /** Drops one user; the last one finalizes the library after draining it. */
  async release(): Promise<void> {
    if (this.#users === 0) return;
    this.#users--;
    if (this.#users > 0) return;
    modules.delete(this.#key);
    const done = (async () => {
      await this.#reset?.catch(() => undefined);
      await this.#drained();
      if (this.#state === 'ready' && this.#ownsInitialization) {
        try {
          this.api.C_Finalize();
        } catch {
          // Nothing left to do with a library that will not finalize.
        }
      }
      this.#state = 'finalized';
      this.#logins.clear();
    })();
    finalizing.set(this.#key, done);
    try {
      await done;
    } finally {
      if (finalizing.get(this.#key) === done) finalizing.delete(this.#key);
    }
  }

  #initialize(): void {
    try {
      this.api.C_Initialize({ flags: pkcs11js.CKF_OS_LOCKING_OK });
      this.#ownsInitialization = true;
    } catch (err) {
      if (ckrCode(err) === pkcs11js.CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        this.#ownsInitialization = false;
      } else {
        throw new KeywardError('unavailable', `C_Initialize of PKCS#11 module ${this.path} failed: ${ckrName(err)}`, { cause: err });
      }
    }
    this.#state = 'ready';
  }

  #drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }
}
