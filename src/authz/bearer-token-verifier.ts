// Mesh sidecar mode: a caller may prove who it is with a Kubernetes projected
// service-account token in the gRPC `authorization` metadata. This checks that token
// (signature against the cluster's JWKS saved to a file, issuer, audience, lifetime)
// with jose and turns its claims into identity attributes. Every failure is the same
// 'unauthenticated' error so a caller learns nothing about why; the cause is for the log.
import { deepFreeze } from '../core/deep-freeze.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet, type JWTVerifyGetKey } from 'jose';
import { LRUCache } from 'lru-cache';
import { KeywardError } from '../core/keyward-error.js';

export interface BearerTokenSettings {
  readonly jwksFile: string;
  readonly issuer: string;
  readonly audience: string;
  /** Seconds of clock skew accepted on exp/nbf/iat. Default 30. */
  readonly clockToleranceSec?: number;
  /** Verified tokens remembered (by SHA-256 of the token) until they expire. Default 10_000. */
  readonly maxCachedTokens?: number;
  /** Clock in ms, for tests. Default Date.now. */
  readonly now?: () => number;
}

export interface TokenIdentity {
  /** "sub" */
  readonly subject: string;
  /** "kubernetes.io".namespace */
  readonly namespace?: string;
  /** "kubernetes.io".serviceaccount.name */
  readonly serviceAccount?: string;
  /** "kubernetes.io".pod.uid */
  readonly podUid?: string;
  /** "kubernetes.io".pod.name */
  readonly podName?: string;
  /** The whole payload, deeply frozen. */
  readonly claims: Readonly<Record<string, unknown>>;
  /** "exp" in ms since the epoch ("exp" is required). */
  readonly expiresAt: number;
}

/** The one message of every refused token, whatever the reason. */
export const INVALID_BEARER_TOKEN_MESSAGE = 'invalid bearer token';

/** Tokens longer than this are refused before any parsing. */
export const MAX_BEARER_TOKEN_CHARS = 16 * 1024;

/** Asymmetric signature algorithms only: never 'none', never an HMAC. */
const ALLOWED_ALGORITHMS = ['RS256', 'PS256', 'ES256', 'ES384', 'EdDSA'];

const SCHEME = 'bearer';
/** "<scheme> <token>": exactly one space, no other whitespace anywhere. */
const HEADER_SHAPE = /^([^\s]+) ([^\s]+)$/;
/** The characters of a compact JWS (base64url segments and dots). */
const TOKEN_CHARS = /^[A-Za-z0-9_.-]+$/;

const DEFAULT_CLOCK_TOLERANCE_SEC = 30;
const DEFAULT_MAX_CACHED_TOKENS = 10_000;

function refused(reason: unknown): KeywardError {
  const cause = reason instanceof Error ? reason : new Error(String(reason));
  return new KeywardError('unauthenticated', INVALID_BEARER_TOKEN_MESSAGE, { cause });
}

function badJwks(file: string, what: string, cause?: unknown): KeywardError {
  return new KeywardError('failed-precondition', `JWKS file ${file}: ${what}`, { cause });
}

/** Reads, parses and checks the JWKS file; throws 'failed-precondition' naming the file. */
function loadKeySet(file: string): JWTVerifyGetKey {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw badJwks(file, `cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`, err);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw badJwks(file, `is not valid JSON (${(err as Error).message})`, err);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw badJwks(file, 'is not a JSON object');
  }
  const keys = (parsed as { keys?: unknown }).keys;
  if (!Array.isArray(keys)) throw badJwks(file, 'has no "keys" array');
  keys.forEach((key: unknown, i) => {
    if (typeof key !== 'object' || key === null || Array.isArray(key)) {
      throw badJwks(file, `keys[${i}] is not a JSON object`);
    }
    const { kty } = key as { kty?: unknown };
    if (typeof kty !== 'string') throw badJwks(file, `keys[${i}] has no "kty"`);
    if (kty === 'oct') throw badJwks(file, `keys[${i}] is a symmetric key; only public keys belong in a JWKS`);
    if ('d' in key) throw badJwks(file, `keys[${i}] holds private key material; only public keys belong in a JWKS`);
  });
  try {
    return createLocalJWKSet(parsed as JSONWebKeySet);
  } catch (err) {
    throw badJwks(file, `is not a valid JSON Web Key Set (${(err as Error).message})`, err);
  }
}

function field(obj: unknown, name: string): unknown {
  return typeof obj === 'object' && obj !== null && !Array.isArray(obj) && Object.hasOwn(obj, name)
    ? (obj as Record<string, unknown>)[name]
    : undefined;
}

const stringOrUndefined = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

function identityOf(payload: Record<string, unknown>): TokenIdentity {
  const { sub, exp } = payload;
  if (typeof sub !== 'string' || sub === '') throw new Error('"sub" claim is not a non-empty string');
  if (typeof exp !== 'number' || !Number.isFinite(exp)) throw new Error('"exp" claim is not a number');
  const k8s = field(payload, 'kubernetes.io');
  const identity: TokenIdentity = {
    subject: sub,
    namespace: stringOrUndefined(field(k8s, 'namespace')),
    serviceAccount: stringOrUndefined(field(field(k8s, 'serviceaccount'), 'name')),
    podUid: stringOrUndefined(field(field(k8s, 'pod'), 'uid')),
    podName: stringOrUndefined(field(field(k8s, 'pod'), 'name')),
    claims: deepFreeze(payload),
    expiresAt: exp * 1000,
  };
  return Object.freeze(identity);
}

export class BearerTokenVerifier {
  readonly #settings: BearerTokenSettings;
  readonly #toleranceMs: number;
  readonly #now: () => number;
  readonly #cache: LRUCache<string, TokenIdentity> | undefined;
  readonly #keySet: JWTVerifyGetKey;

  private constructor(settings: BearerTokenSettings, keySet: JWTVerifyGetKey) {
    this.#settings = settings;
    this.#keySet = keySet;
    this.#now = settings.now ?? Date.now;
    this.#toleranceMs = (settings.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC) * 1000;
    const max = settings.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS;
    // Entries also age out by the injected clock; a hit is still re-checked in verify().
    this.#cache = max === 0 ? undefined : new LRUCache({ max, ttlAutopurge: false, perf: { now: this.#now } });
  }

  /** Reads and parses the JWKS file; a missing/unreadable/invalid file → KeywardError 'failed-precondition' whose message names the file and what is wrong. */
  static fromFile(settings: BearerTokenSettings): BearerTokenVerifier {
    const tolerance = settings.clockToleranceSec ?? DEFAULT_CLOCK_TOLERANCE_SEC;
    if (!Number.isFinite(tolerance) || tolerance < 0) {
      throw KeywardError.invalidArgument(`clockToleranceSec must be a non-negative number, got ${tolerance}`);
    }
    const max = settings.maxCachedTokens ?? DEFAULT_MAX_CACHED_TOKENS;
    if (!Number.isSafeInteger(max) || max < 0) {
      throw KeywardError.invalidArgument(`maxCachedTokens must be a non-negative integer, got ${max}`);
    }
    if (settings.issuer === '') throw KeywardError.invalidArgument('issuer must not be empty');
    if (settings.audience === '') throw KeywardError.invalidArgument('audience must not be empty');
    return new BearerTokenVerifier(settings, loadKeySet(settings.jwksFile));
  }

  /** Takes the raw metadata value "Bearer <jwt>" (scheme case-insensitive). Any failure → KeywardError('unauthenticated', 'invalid bearer token', { cause }) — the same fixed message always; the cause says why (logged, never sent). */
  async verify(authorization: string): Promise<TokenIdentity> {
    const token = this.#tokenOf(authorization);
    const digest = createHash('sha256').update(token).digest('hex');
    const cached = this.#cache?.get(digest);
    if (cached !== undefined) {
      if (cached.expiresAt + this.#toleranceMs > this.#now()) return cached;
      this.#cache?.delete(digest);
      throw refused(new Error('cached token has expired'));
    }
    let identity: TokenIdentity;
    try {
      const { payload } = await jwtVerify(token, this.#keySet, {
        issuer: this.#settings.issuer,
        audience: this.#settings.audience,
        algorithms: ALLOWED_ALGORITHMS,
        requiredClaims: ['exp', 'sub'],
        clockTolerance: this.#toleranceMs / 1000,
        currentDate: new Date(this.#now()),
      });
      identity = identityOf(payload);
    } catch (err) {
      throw refused(err);
    }
    const ttl = Math.ceil(identity.expiresAt + this.#toleranceMs - this.#now());
    if (this.#cache !== undefined && ttl > 0) {
      this.#cache.set(digest, identity, { ttl });
    }
    return identity;
  }

  /** The JWT of "Bearer <jwt>", or the refusal. */
  #tokenOf(authorization: string): string {
    if (typeof authorization !== 'string') throw refused(new Error('authorization metadata is not a string'));
    if (authorization.length > SCHEME.length + 1 + MAX_BEARER_TOKEN_CHARS) {
      throw refused(new Error(`authorization metadata longer than ${MAX_BEARER_TOKEN_CHARS} characters`));
    }
    const match = HEADER_SHAPE.exec(authorization);
    if (match === null) throw refused(new Error('authorization metadata is not "Bearer <token>"'));
    const [, scheme, token] = match as unknown as [string, string, string];
    if (scheme.toLowerCase() !== SCHEME) throw refused(new Error('authorization scheme is not Bearer'));
    if (token.length > MAX_BEARER_TOKEN_CHARS) {
      throw refused(new Error(`bearer token longer than ${MAX_BEARER_TOKEN_CHARS} characters`));
    }
    if (!TOKEN_CHARS.test(token)) throw refused(new Error('bearer token has characters no JWT has'));
    return token;
  }
}
