// Keeps the Vault backend's secrets (tokens, secret_id, the service-account JWT, the
// client key) out of every string it emits: anything that may carry text from Vault or
// the network goes through redact() before it reaches an error message or a log line.
// Defence in depth — the backend never puts a secret into a message on purpose.

const REDACTED = '[redacted]';
/** Shorter strings are not worth hunting for, and would redact innocent text. */
const MIN_SECRET_LENGTH = 8;
const MAX_SECRETS = 32;

export class SecretRedactor {
  readonly #secrets: string[] = [];

  /** Remembers a secret (the most recent MAX_SECRETS are kept). */
  add(secret: string | undefined): void {
    if (secret === undefined || secret.length < MIN_SECRET_LENGTH || this.#secrets.includes(secret)) return;
    this.#secrets.push(secret);
    if (this.#secrets.length > MAX_SECRETS) this.#secrets.shift();
  }

  redact(text: string): string {
    let out = text;
    for (const secret of this.#secrets) {
      if (out.includes(secret)) out = out.split(secret).join(REDACTED);
    }
    return out;
  }

  /** Redacted and cut to `max` characters: Vault's error strings end up in messages. */
  clip(text: string, max = 300): string {
    const redacted = this.redact(text);
    return redacted.length > max ? `${redacted.slice(0, max)}…` : redacted;
  }
}
