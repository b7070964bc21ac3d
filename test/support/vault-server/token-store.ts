// The test Vault's tokens: service tokens with a TTL, a max TTL and renewability, scoped
// to a namespace, answering lookup-self and renew-self with Vault's documented fields.
// Renewal extends the TTL (or the requested increment) but never past the max TTL, and
// says so in a warning, as Vault does; expired and revoked tokens are refused.
import { randomBytes, randomUUID } from 'node:crypto';
import { VaultHttpError } from './vault-http-error.js';

export interface TokenOptions {
  readonly policies?: readonly string[];
  /** Like Vault's no_default_policy: without it, every token also gets the `default` policy. */
  readonly noDefaultPolicy?: boolean;
  /** Seconds; 0 means the token never expires (root tokens). */
  readonly ttlSeconds?: number;
  /** Seconds from creation past which renewal cannot go; 0 means none. */
  readonly maxTtlSeconds?: number;
  readonly renewable?: boolean;
  readonly namespace?: string;
  readonly path?: string;
  readonly displayName?: string;
  readonly meta?: Readonly<Record<string, string>>;
}

export interface TokenEntry {
  readonly id: string;
  readonly accessor: string;
  readonly policies: readonly string[];
  readonly namespace: string;
  readonly createdAt: number;
  readonly ttlSeconds: number;
  readonly maxTtlSeconds: number;
  readonly renewable: boolean;
  readonly path: string;
  readonly displayName: string;
  readonly meta: Readonly<Record<string, string>>;
  /** Epoch ms; 0 means never. */
  expiresAt: number;
  revoked: boolean;
}

/** Vault durations: a number of seconds, or "30s", "5m", "1h". */
function parseDuration(value: unknown): number | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (typeof value === 'number') return value;
  const m = /^(\d+)(s|m|h)?$/.exec(String(value));
  if (m === null) throw VaultHttpError.badRequest(`error parsing duration "${String(value)}"`);
  return Number(m[1]) * (m[2] === 'h' ? 3600 : m[2] === 'm' ? 60 : 1);
}

export class TokenStore {
  readonly #tokens = new Map<string, TokenEntry>();
  readonly #now: () => number;

  constructor(now: () => number) {
    this.#now = now;
  }

  create(options: TokenOptions = {}): TokenEntry {
    const ttlSeconds = options.ttlSeconds ?? 0;
    const entry: TokenEntry = {
      id: `hvs.${randomBytes(18).toString('base64url')}`,
      accessor: randomBytes(12).toString('base64url'),
      policies: [...new Set([...(options.noDefaultPolicy || options.policies?.includes('root') ? [] : ['default']), ...(options.policies ?? [])])],
      namespace: options.namespace ?? '',
      createdAt: this.#now(),
      ttlSeconds,
      maxTtlSeconds: options.maxTtlSeconds ?? 0,
      renewable: options.renewable ?? ttlSeconds > 0,
      path: options.path ?? 'auth/token/create',
      displayName: options.displayName ?? 'token',
      meta: { ...(options.meta ?? {}) },
      expiresAt: ttlSeconds > 0 ? this.#now() + ttlSeconds * 1000 : 0,
      revoked: false,
    };
    this.#tokens.set(entry.id, entry);
    return entry;
  }

  /** The token if it is valid in `namespace` now; else undefined. */
  lookup(id: string | undefined, namespace: string): TokenEntry | undefined {
    if (id === undefined || id === '') return undefined;
    const entry = this.#tokens.get(id);
    if (entry === undefined || entry.revoked || entry.namespace !== namespace) return undefined;
    if (entry.expiresAt !== 0 && entry.expiresAt <= this.#now()) {
      this.#tokens.delete(id);
      return undefined;
    }
    return entry;
  }

  remainingSeconds(entry: TokenEntry): number {
    return entry.expiresAt === 0 ? 0 : Math.max(0, Math.floor((entry.expiresAt - this.#now()) / 1000));
  }

  /** GET /auth/token/lookup-self data. */
  lookupData(entry: TokenEntry): Record<string, unknown> {
    return {
      accessor: entry.accessor,
      creation_time: Math.floor(entry.createdAt / 1000),
      creation_ttl: entry.ttlSeconds,
      display_name: entry.displayName,
      entity_id: '',
      expire_time: entry.expiresAt === 0 ? null : new Date(entry.expiresAt).toISOString(),
      explicit_max_ttl: entry.maxTtlSeconds,
      id: entry.id,
      issue_time: new Date(entry.createdAt).toISOString(),
      meta: entry.meta,
      num_uses: 0,
      orphan: true,
      path: entry.path,
      policies: entry.policies,
      renewable: entry.renewable,
      ttl: this.remainingSeconds(entry),
      type: 'service',
    };
  }

  /** The `auth` block of a login or renewal answer. */
  authBlock(entry: TokenEntry): Record<string, unknown> {
    return {
      client_token: entry.id,
      accessor: entry.accessor,
      policies: entry.policies,
      token_policies: entry.policies,
      metadata: entry.meta,
      lease_duration: this.remainingSeconds(entry),
      renewable: entry.renewable,
      entity_id: '',
      token_type: 'service',
      orphan: true,
      mfa_requirement: null,
      num_uses: 0,
    };
  }

  /** POST /auth/token/renew-self: the new auth block and any warnings. */
  renew(entry: TokenEntry, body: Record<string, unknown>): { auth: Record<string, unknown>; warnings: string[] } {
    if (!entry.renewable || entry.ttlSeconds === 0) throw VaultHttpError.badRequest('lease is not renewable');
    const increment = parseDuration(body['increment']) ?? entry.ttlSeconds;
    const warnings: string[] = [];
    let expiresAt = this.#now() + increment * 1000;
    if (entry.maxTtlSeconds > 0) {
      const cap = entry.createdAt + entry.maxTtlSeconds * 1000;
      if (expiresAt > cap) {
        const effective = Math.max(0, Math.floor((cap - this.#now()) / 1000));
        warnings.push(`TTL of "${increment}s" exceeded the effective max_ttl of "${effective}s"; TTL value is capped accordingly`);
        expiresAt = cap;
      }
    }
    entry.expiresAt = expiresAt;
    return { auth: this.authBlock(entry), warnings };
  }

  revoke(id: string): void {
    const entry = this.#tokens.get(id);
    if (entry !== undefined) entry.revoked = true;
  }

  /** Fault: every token (optionally but the root tokens) expires now. */
  expireAll(options: { includeRoot?: boolean } = {}): number {
    let n = 0;
    for (const entry of this.#tokens.values()) {
      if (!options.includeRoot && entry.policies.includes('root')) continue;
      entry.expiresAt = this.#now() - 1;
      n++;
    }
    return n;
  }

  /** Tokens issued (for tests that count logins). */
  issued(filter: (entry: TokenEntry) => boolean = () => true): TokenEntry[] {
    return [...this.#tokens.values()].filter(filter);
  }

  static newRequestId(): string {
    return randomUUID();
  }
}
