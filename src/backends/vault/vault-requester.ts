// Every request the Vault backend makes goes through here: node-vault's generic read /
// write (its transit helpers hard-code the /transit mount and it has no sign, verify or
// hmac helpers) over our transport, with the resilience the issue asks for — at most
// max_concurrent_requests in flight, a circuit breaker that fails fast while Vault is
// down, and retries with exponential backoff and jitter on network errors and 5xx only.
// It knows nothing of tokens' meaning: callers pass the token to send.
import nodeVault from 'node-vault';
import type { Logger } from '../../core/logger.js';
import { CircuitBreaker, type BreakerState } from './circuit-breaker.js';
import { ConcurrencyLimiter } from './concurrency-limiter.js';
import { backoffDelay, isRetryable, type RetryMode, type RetrySettings } from './retry-policy.js';
import type { SecretRedactor } from './secret-redactor.js';
import { sleep, type Timing } from './timing.js';
import { VaultRequestError } from './vault-request-error.js';
import type { VaultTransport } from './vault-transport.js';

export interface VaultRequest {
  readonly method: 'GET' | 'POST';
  /** Relative to /v1/, e.g. "transit/keys/payments". */
  readonly path: string;
  readonly body?: Readonly<Record<string, unknown>>;
  /** X-Vault-Token; absent for login requests. */
  readonly token?: string;
  /** Default 'idempotent'. */
  readonly retry?: RetryMode;
}

export interface VaultRequesterOptions {
  readonly address: string;
  readonly namespace: string | undefined;
  readonly transport: VaultTransport;
  readonly timeoutMs: number;
  readonly maxConcurrent: number;
  readonly retry: RetrySettings;
  readonly breaker: { readonly failureThreshold: number; readonly openMs: number };
  readonly timing: Timing;
  readonly redactor: SecretRedactor;
  readonly logger: Logger;
}

/** The shape of node-vault's ApiResponseError (the class is not exported). */
interface ApiResponseErrorLike {
  readonly response: { readonly statusCode: number; readonly body: unknown };
}

function isApiResponseError(err: unknown): err is ApiResponseErrorLike {
  return typeof err === 'object' && err !== null && 'response' in err && typeof (err as ApiResponseErrorLike).response?.statusCode === 'number';
}

export class VaultRequester {
  readonly #client: nodeVault.client;
  readonly #options: VaultRequesterOptions;
  readonly #limiter: ConcurrencyLimiter;
  readonly #breaker: CircuitBreaker;
  #closed = false;
  #outage = false;
  /** Requests sent to Vault (attempts, retries included): for tests and the benchmark. */
  sent = 0;

  constructor(options: VaultRequesterOptions) {
    this.#options = options;
    this.#limiter = new ConcurrencyLimiter(options.maxConcurrent, options.timing);
    this.#breaker = new CircuitBreaker(options.breaker, options.timing, (state) => this.#onBreaker(state));
    this.#client = nodeVault({
      apiVersion: 'v1',
      endpoint: options.address,
      // Our transport replaces node-vault's axios one (see vault-transport.ts).
      'request-promise': options.transport.asRequestPromise(),
      // node-vault's debug() prints request bodies — AppRole secret_ids, JWTs — under DEBUG=node-vault.
      debug: () => {},
      noCustomHTTPVerbs: true,
    });
    // node-vault falls back to VAULT_TOKEN, VAULT_NAMESPACE and VAULT_PREFIX from the
    // environment for falsy settings: pin them, so only our configuration applies.
    this.#client.token = '';
    (this.#client as unknown as { pathPrefix: string }).pathPrefix = '';
    (this.#client as unknown as { namespace: string | undefined }).namespace = options.namespace;
  }

  get breakerState(): BreakerState {
    return this.#breaker.state;
  }

  get breakerRetryInMs(): number {
    return this.#breaker.retryInMs;
  }

  /** Sends a request with retries; resolves with Vault's JSON answer (undefined for 204). */
  async send(req: VaultRequest): Promise<Record<string, unknown> | undefined> {
    const { retry, timing } = this.#options;
    for (let attempt = 1; ; attempt++) {
      try {
        return await this.#attempt(req);
      } catch (err) {
        if (attempt >= retry.maxAttempts || this.#closed || !isRetryable(err, req.retry ?? 'idempotent')) throw err;
        await sleep(timing, backoffDelay(retry, attempt, timing));
      }
    }
  }

  async #attempt(req: VaultRequest): Promise<Record<string, unknown> | undefined> {
    if (this.#closed) throw new VaultRequestError('closed', 'the Vault backend is closed');
    if (this.#breaker.state === 'open') throw this.#circuitOpen();
    const release = await this.#limiter.acquire(this.#options.timeoutMs);
    const permit = this.#breaker.tryAcquire();
    if (permit === undefined) {
      release();
      throw this.#circuitOpen();
    }
    this.sent++;
    try {
      const body = await this.#dispatch(req);
      permit.succeed();
      return body;
    } catch (raw) {
      const err = this.#classify(raw, req);
      if (err.isVaultFailure) permit.fail();
      else if (err.kind === 'http') permit.succeed();
      else permit.cancel();
      throw err;
    } finally {
      release();
    }
  }

  #dispatch(req: VaultRequest): Promise<Record<string, unknown> | undefined> {
    const requestOptions = {
      headers: req.token !== undefined ? { 'X-Vault-Token': req.token } : {},
      timeoutMs: this.#options.timeoutMs,
    };
    const result: Promise<unknown> =
      req.method === 'GET' ? this.#client.read(req.path, requestOptions) : this.#client.write(req.path, req.body ?? {}, requestOptions);
    return result.then((body) => (body !== null && typeof body === 'object' ? (body as Record<string, unknown>) : undefined));
  }

  #classify(err: unknown, req: VaultRequest): VaultRequestError {
    if (err instanceof VaultRequestError) return err;
    const where = `${req.method} ${req.path}`;
    if (isApiResponseError(err)) {
      const { statusCode, body } = err.response;
      const raw = (body as { errors?: unknown } | undefined)?.errors;
      const vaultErrors = Array.isArray(raw) ? raw.filter((e): e is string => typeof e === 'string').map((e) => this.#options.redactor.clip(e)) : [];
      const summary = vaultErrors.length > 0 ? vaultErrors.join('; ') : 'no error detail';
      return new VaultRequestError('http', `${where}: Vault answered ${statusCode}: ${summary}`, { status: statusCode, vaultErrors });
    }
    // tv4 schema errors and anything unexpected from node-vault: no text from the error.
    return new VaultRequestError('protocol', `${where}: the Vault client failed (${err instanceof Error ? err.name : typeof err})`, { mayHaveReachedVault: false });
  }

  #circuitOpen(): VaultRequestError {
    const seconds = Math.ceil(this.#breaker.retryInMs / 1000);
    return new VaultRequestError('circuit-open', `Vault is failing; not sending requests for ${seconds} s (circuit breaker open)`);
  }

  /** Logs the outage once (closed → open) and its end; failed probes re-opening it are not news. */
  #onBreaker(state: BreakerState): void {
    const log = this.#options.logger;
    if (state === 'open' && !this.#outage) {
      this.#outage = true;
      log.warn({ event: 'vault.circuit.open', open_ms: this.#options.breaker.openMs }, 'Vault keeps failing: circuit breaker open, failing fast');
    } else if (state === 'closed' && this.#outage) {
      this.#outage = false;
      log.info({ event: 'vault.circuit.closed' }, 'Vault answers again: circuit breaker closed');
    }
  }

  close(): void {
    this.#closed = true;
    this.#options.transport.destroy();
  }
}
