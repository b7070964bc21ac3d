// When a failed Vault request is tried again, and after how long: network errors and 5xx
// answers are retried with exponential backoff and jitter, 4xx answers never (Vault
// understood the request and refused it). A request that is not idempotent (rotate) is
// retried only when it surely never reached Vault, or Vault said 503 (sealed / standby:
// not processed), so a retry cannot rotate a key twice.
import type { Timing } from './timing.js';
import { VaultRequestError } from './vault-request-error.js';

export interface RetrySettings {
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

/** 'idempotent': any transient failure may be retried; 'unsafe': only what cannot have been processed. */
export type RetryMode = 'idempotent' | 'unsafe';

export function isRetryable(err: unknown, mode: RetryMode): boolean {
  if (!(err instanceof VaultRequestError)) return false;
  switch (err.kind) {
    case 'network':
    case 'timeout':
    case 'protocol':
      return mode === 'idempotent' || !err.mayHaveReachedVault;
    case 'http': {
      const status = err.status ?? 0;
      if (status < 500) return false;
      return mode === 'idempotent' || status === 503;
    }
    default:
      return false;
  }
}

/**
 * The wait before attempt `attempt + 1` (attempt counts from 1): the exponential step
 * min(max, base · 2^(attempt−1)), of which a random half is jitter ("equal jitter"), so
 * clients that failed together do not retry together, yet never retry at once.
 */
export function backoffDelay(settings: RetrySettings, attempt: number, timing: Pick<Timing, 'random'>): number {
  const step = Math.min(settings.maxDelayMs, settings.baseDelayMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(step / 2 + timing.random() * (step / 2));
}
