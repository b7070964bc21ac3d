// Why one request to Vault failed, as the retry policy, the circuit breaker and the
// error mapping need to know it: no answer (network, timeout — and whether the request
// can have reached Vault), an HTTP error status with Vault's `errors`, or a refusal
// before sending (circuit open, too many requests, backend closed). Internal to the
// backend; callers see KeywardErrors. Messages carry no secrets (already redacted).

export type VaultFailureKind = 'network' | 'timeout' | 'http' | 'protocol' | 'circuit-open' | 'overloaded' | 'closed';

export class VaultRequestError extends Error {
  override readonly name = 'VaultRequestError';
  readonly kind: VaultFailureKind;
  /** The HTTP status, for kind 'http'. */
  readonly status: number | undefined;
  /** Vault's `errors` array (redacted), for kind 'http'. */
  readonly vaultErrors: readonly string[];
  /**
   * False only when the request certainly never reached Vault's request handler
   * (connection refused, DNS failure, TLS handshake failure): safe to retry even for
   * operations that are not idempotent.
   */
  readonly mayHaveReachedVault: boolean;

  constructor(
    kind: VaultFailureKind,
    message: string,
    options: { status?: number; vaultErrors?: readonly string[]; mayHaveReachedVault?: boolean } = {},
  ) {
    super(message);
    this.kind = kind;
    this.status = options.status;
    this.vaultErrors = options.vaultErrors ?? [];
    this.mayHaveReachedVault = options.mayHaveReachedVault ?? (kind !== 'circuit-open' && kind !== 'overloaded' && kind !== 'closed');
  }

  /** Network trouble or a 5xx: Vault (or the path to it) is failing, not our request. */
  get isVaultFailure(): boolean {
    return this.kind === 'network' || this.kind === 'timeout' || this.kind === 'protocol' || (this.kind === 'http' && (this.status ?? 0) >= 500);
  }

  /** The first of Vault's error strings, or the message. */
  get detail(): string {
    return this.vaultErrors[0] ?? this.message;
  }
}

export function isHttpStatus(err: unknown, status: number): err is VaultRequestError {
  return err instanceof VaultRequestError && err.kind === 'http' && err.status === status;
}
