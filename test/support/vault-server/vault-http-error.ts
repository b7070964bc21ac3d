// An error answer of the test Vault, in Vault's documented shape: an HTTP status and a
// JSON body `{"errors": [...]}` (400 bad request, 403 permission denied, 404 not found,
// 429 rate limited, 500 internal, 503 sealed or in maintenance).

export class VaultHttpError extends Error {
  readonly status: number;
  readonly errors: readonly string[];

  constructor(status: number, errors: readonly string[]) {
    super(errors[0] ?? `status ${status}`);
    this.status = status;
    this.errors = errors;
  }

  static badRequest(message: string): VaultHttpError {
    return new VaultHttpError(400, [message]);
  }

  static permissionDenied(): VaultHttpError {
    return new VaultHttpError(403, ['permission denied']);
  }

  /** What Vault answers for a path no mount handles, or a resource that does not exist. */
  static notFound(errors: readonly string[] = []): VaultHttpError {
    return new VaultHttpError(404, errors);
  }
}
