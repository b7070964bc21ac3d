// The mesh sidecar bearer token check: Kubernetes-shaped service-account JWTs signed by
// keys generated here, verified against a JWKS written to a temp file, and every way a
// token must be refused, each with the same 'unauthenticated' error and fixed message.
import test, { type ExecutionContext } from 'ava';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { base64url, exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWK, type JWTPayload } from 'jose';
import { BearerTokenVerifier, type BearerTokenSettings } from '../../src/authz/bearer-token-verifier.js';
import { KeywardError } from '../../src/core/keyward-error.js';

const ISSUER = 'https://kubernetes.default.svc.cluster.local';
const AUDIENCE = 'keyward';
const SUBJECT = 'system:serviceaccount:payments:api';
const HOUR_MS = 3_600_000;
const YEAR_MS = 365 * 24 * HOUR_MS;

type Alg = 'RS256' | 'ES256' | 'EdDSA';

interface SigningKey {
  readonly alg: Alg;
  readonly kid: string;
  readonly privateKey: CryptoKey;
  readonly jwk: JWK;
}

async function signingKey(alg: Alg, kid: string): Promise<SigningKey> {
  const { publicKey, privateKey } = await generateKeyPair(alg);
  const jwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { alg, kid, privateKey, jwk };
}

/** A clock the test moves by hand, starting `offsetMs` away from the real time. */
function clock(offsetMs: number) {
  let ms = Date.now() + offsetMs;
  return {
    now: () => ms,
    advance: (by: number) => {
      ms += by;
    },
  };
}

function tempDir(t: ExecutionContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'keyward-bearer-'));
  t.teardown(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeJwks(file: string, keys: readonly SigningKey[]): void {
  writeFileSync(file, JSON.stringify({ keys: keys.map((k) => k.jwk) }));
}

function kubernetesClaims(): JWTPayload {
  return {
    sub: SUBJECT,
    'kubernetes.io': {
      namespace: 'payments',
      serviceaccount: { name: 'api', uid: 'c0ffee00-0000-4000-8000-000000000001' },
      pod: { name: 'api-7d4f9c-x2x9q', uid: 'c0ffee00-0000-4000-8000-000000000002' },
    },
  };
}

interface TokenOptions {
  readonly claims?: JWTPayload;
  readonly issuer?: string;
  readonly audience?: string | string[];
  /** Seconds since the epoch; null leaves "exp" out. */
  readonly exp?: number | null;
  readonly nbf?: number;
  readonly iat?: number;
  readonly kid?: string;
}

/** A Kubernetes-shaped token valid for an hour from `nowMs`. */
async function token(key: SigningKey, nowMs: number, o: TokenOptions = {}): Promise<string> {
  const nowSec = Math.floor(nowMs / 1000);
  const payload: JWTPayload = { ...(o.claims ?? kubernetesClaims()) };
  payload.iss = o.issuer ?? ISSUER;
  payload.aud = o.audience ?? [AUDIENCE];
  payload.iat = o.iat ?? nowSec;
  if (o.exp !== null) payload.exp = o.exp ?? nowSec + 3600;
  if (o.nbf !== undefined) payload.nbf = o.nbf;
  return new SignJWT(payload).setProtectedHeader({ alg: key.alg, kid: o.kid ?? key.kid }).sign(key.privateKey);
}

interface Fixture {
  readonly file: string;
  readonly key: SigningKey;
  readonly clock: ReturnType<typeof clock>;
  readonly verifier: BearerTokenVerifier;
}

async function fixture(t: ExecutionContext, settings: Partial<BearerTokenSettings> = {}, offsetMs = 0): Promise<Fixture> {
  const file = join(tempDir(t), 'jwks.json');
  const key = await signingKey('RS256', 'rsa-1');
  writeJwks(file, [key]);
  const c = clock(offsetMs);
  const verifier = BearerTokenVerifier.fromFile({ jwksFile: file, issuer: ISSUER, audience: AUDIENCE, now: c.now, ...settings });
  return { file, key, clock: c, verifier };
}

/** Asserts the refusal every bad token gets; returns its cause for finer checks. */
async function assertRefused(t: ExecutionContext, verifier: BearerTokenVerifier, authorization: string, what: string): Promise<unknown> {
  const err = await t.throwsAsync(verifier.verify(authorization), { instanceOf: KeywardError }, what);
  t.is(err?.code, 'unauthenticated', what);
  t.is(err?.message, 'invalid bearer token', what);
  t.truthy(err?.cause, `${what}: has a cause`);
  return err?.cause;
}

const joseCode = (cause: unknown) => (cause as { code?: string } | undefined)?.code;

for (const alg of ['RS256', 'ES256', 'EdDSA'] as const) {
  test(`a valid ${alg} Kubernetes service-account token yields its identity`, async (t) => {
    const file = join(tempDir(t), 'jwks.json');
    const key = await signingKey(alg, `${alg}-key`);
    const other = await signingKey('ES256', 'unrelated');
    writeJwks(file, [other, key]);
    const c = clock(0);
    const verifier = BearerTokenVerifier.fromFile({ jwksFile: file, issuer: ISSUER, audience: AUDIENCE, now: c.now });
    const jwt = await token(key, c.now());
    const identity = await verifier.verify(`Bearer ${jwt}`);
    t.is(identity.subject, SUBJECT);
    t.is(identity.namespace, 'payments');
    t.is(identity.serviceAccount, 'api');
    t.is(identity.podName, 'api-7d4f9c-x2x9q');
    t.is(identity.podUid, 'c0ffee00-0000-4000-8000-000000000002');
    t.is(identity.expiresAt, (Math.floor(c.now() / 1000) + 3600) * 1000);
    t.is(identity.claims.iss, ISSUER);
    t.deepEqual(identity.claims['kubernetes.io'], kubernetesClaims()['kubernetes.io']);
    t.true(Object.isFrozen(identity.claims));
    t.true(Object.isFrozen(identity.claims['kubernetes.io']));
    t.true(Object.isFrozen((identity.claims['kubernetes.io'] as { pod: object }).pod));
    t.throws(() => {
      (identity.claims as Record<string, unknown>).sub = 'system:serviceaccount:kube-system:admin';
    }, { instanceOf: TypeError });
  });
}

test('the scheme is case-insensitive and Kubernetes claims are optional', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const identity = await verifier.verify(`bEaReR ${await token(key, c.now(), { claims: { sub: 'plain-subject' }, audience: AUDIENCE })}`);
  t.is(identity.subject, 'plain-subject');
  t.is(identity.namespace, undefined);
  t.is(identity.serviceAccount, undefined);
  t.is(identity.podName, undefined);
  t.is(identity.podUid, undefined);
});

test('wrong issuer or audience is refused', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { issuer: 'https://evil.example' })}`, 'issuer')), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { audience: ['vault'] })}`, 'audience')), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
});

test('an expired token is refused by the injected clock, with its tolerance', async (t) => {
  // The injected clock is a year ahead of the real one: by the real clock this token is
  // still good, so only the injected clock can expire it.
  const { key, clock: c, verifier } = await fixture(t, { clockToleranceSec: 30 }, YEAR_MS);
  const exp = Math.floor(c.now() / 1000) + 60;
  const jwt = await token(key, c.now(), { exp });
  c.advance(60_000 + 20_000); // 20 s past exp, inside the 30 s tolerance
  const other = await token(key, c.now() - 80_000, { exp, claims: { sub: 'late' } });
  t.is((await verifier.verify(`Bearer ${other}`)).subject, 'late');
  c.advance(15_000); // 35 s past exp
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${jwt}`, 'expired')), 'ERR_JWT_EXPIRED');
});

test('a token not yet valid (nbf) is refused by the injected clock', async (t) => {
  // The injected clock is a year behind the real one: by the real clock nbf has passed.
  const { key, clock: c, verifier } = await fixture(t, {}, -YEAR_MS);
  const nowSec = Math.floor(c.now() / 1000);
  const jwt = await token(key, c.now(), { nbf: nowSec + 600 });
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${jwt}`, 'nbf')), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  c.advance(600_000);
  t.is((await verifier.verify(`Bearer ${jwt}`)).subject, SUBJECT);
});

test('a token without exp or without sub is refused', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { exp: null })}`, 'no exp')), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  const noSub = kubernetesClaims();
  delete noSub.sub;
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { claims: noSub })}`, 'no sub')), 'ERR_JWT_CLAIM_VALIDATION_FAILED');
  await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { claims: { sub: 42 } as unknown as JWTPayload })}`, 'numeric sub');
});

test('a token signed by a key outside the JWKS is refused, same kid or unknown kid', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const impostor = await signingKey('RS256', key.kid);
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(impostor, c.now())}`, 'same kid')), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${await token(key, c.now(), { kid: 'rsa-2' })}`, 'unknown kid')), 'ERR_JWKS_NO_MATCHING_KEY');
});

test('a tampered payload is refused', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const [header, payload, signature] = (await token(key, c.now())).split('.') as [string, string, string];
  const claims = JSON.parse(new TextDecoder().decode(base64url.decode(payload))) as JWTPayload;
  claims.sub = 'system:serviceaccount:kube-system:admin';
  const forged = `${header}.${base64url.encode(JSON.stringify(claims))}.${signature}`;
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${forged}`, 'tampered')), 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED');
});

test('alg none and HS256 are refused by the algorithm allow-list', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const nowSec = Math.floor(c.now() / 1000);
  const b64 = (v: object) => base64url.encode(JSON.stringify(v));
  const claims = { ...kubernetesClaims(), iss: ISSUER, aud: AUDIENCE, iat: nowSec, exp: nowSec + 3600 };
  for (const [what, header] of [
    ['none', { alg: 'none' }],
    ['none with kid', { alg: 'none', kid: key.kid }],
    ['None', { alg: 'None', kid: key.kid }],
  ] as const) {
    const unsecured = `${b64(header)}.${b64(claims)}.`;
    await assertRefused(t, verifier, `Bearer ${unsecured}`, `${what}, empty signature`);
    const withSig = `${b64(header)}.${b64(claims)}.${base64url.encode('x')}`;
    t.is(joseCode(await assertRefused(t, verifier, `Bearer ${withSig}`, `${what}, some signature`)), 'ERR_JOSE_ALG_NOT_ALLOWED', what);
  }
  const secret = new TextEncoder().encode('a shared secret of at least thirty-two bytes');
  const hs256 = await new SignJWT(claims).setProtectedHeader({ alg: 'HS256', kid: key.kid }).sign(secret);
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${hs256}`, 'HS256')), 'ERR_JOSE_ALG_NOT_ALLOWED');
});

test('a malformed authorization value is refused', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const jwt = await token(key, c.now());
  t.is((await verifier.verify(`Bearer ${jwt}`)).subject, SUBJECT, 'the well-formed value verifies');
  for (const value of [
    'Basic x',
    `Basic ${jwt}`,
    `Token ${jwt}`,
    'Bearer',
    'Bearer ',
    'Bearer a b',
    `Bearer  ${jwt}`,
    ` Bearer ${jwt}`,
    `Bearer ${jwt} `,
    `Bearer\t${jwt}`,
    `Bearer ${jwt}\n`,
    `Bearer ${jwt} extra`,
    `Bearer:${jwt}`,
    jwt,
    '',
    'Bearer not-a-jwt',
    'Bearer a.b.c',
    `Bearer ${jwt}%`,
  ]) {
    await assertRefused(t, verifier, value, JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value));
  }
});

test('an oversized token is refused before parsing', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  // A token over 16 KiB that is otherwise valid: the size is the only reason to refuse it.
  const big = await token(key, c.now(), { claims: { ...kubernetesClaims(), pad: 'x'.repeat(13_000) } });
  t.true(big.length > 16 * 1024);
  const cause = await assertRefused(t, verifier, `Bearer ${big}`, 'oversized');
  t.regex((cause as Error).message, /longer than 16384/);
  const huge = `Bearer ${'a'.repeat(1 << 20)}`;
  t.regex(((await assertRefused(t, verifier, huge, 'huge')) as Error).message, /longer than 16384/);
  // Just under the limit is still verified normally.
  const fits = await token(key, c.now(), { claims: { ...kubernetesClaims(), pad: 'x'.repeat(11_000) } });
  t.true(fits.length <= 16 * 1024);
  t.is((await verifier.verify(`Bearer ${fits}`)).subject, SUBJECT);
});

test('a token verified twice is served from the cache the second time', async (t) => {
  const { key, clock: c, verifier } = await fixture(t);
  const jwt = await token(key, c.now());
  const first = await verifier.verify(`Bearer ${jwt}`);
  // jose returns a fresh payload per verification: the very same object means no second one.
  t.is(await verifier.verify(`bearer ${jwt}`), first);
  const other = await verifier.verify(`Bearer ${await token(key, c.now(), { claims: { ...kubernetesClaims(), jti: 'other' } })}`);
  t.not(other, first);
  t.is(await verifier.verify(`Bearer ${jwt}`), first);

  // With caching off, every verification is a new one.
  const f = await fixture(t, { maxCachedTokens: 0 });
  const jwt2 = await token(f.key, f.clock.now());
  const a = await f.verifier.verify(`Bearer ${jwt2}`);
  const b = await f.verifier.verify(`Bearer ${jwt2}`);
  t.not(a, b);
  t.deepEqual(a, b);
});

test('a cached token past its exp is refused', async (t) => {
  const { key, clock: c, verifier } = await fixture(t, { clockToleranceSec: 30 });
  const jwt = await token(key, c.now(), { exp: Math.floor(c.now() / 1000) + 60 });
  const first = await verifier.verify(`Bearer ${jwt}`);
  c.advance(60_000 + 25_000); // within the tolerance: still the cached identity
  t.is(await verifier.verify(`Bearer ${jwt}`), first);
  c.advance(10_000);
  const cause = await assertRefused(t, verifier, `Bearer ${jwt}`, 'expired while cached');
  t.true(cause instanceof Error);
  // Refused again afterwards (now by jose, the entry is gone), never served.
  t.is(joseCode(await assertRefused(t, verifier, `Bearer ${jwt}`, 'expired, again')), 'ERR_JWT_EXPIRED');
});

test('failures are not cached', async (t) => {
  const { key, clock: c, verifier } = await fixture(t, {}, -YEAR_MS);
  const jwt = await token(key, c.now(), { nbf: Math.floor(c.now() / 1000) + 120 });
  await assertRefused(t, verifier, `Bearer ${jwt}`, 'not yet valid');
  c.advance(120_000);
  t.is((await verifier.verify(`Bearer ${jwt}`)).subject, SUBJECT);
});

test('fromFile refuses a missing, non-JSON or keyless JWKS file, naming it', async (t) => {
  const dir = tempDir(t);
  const key = await signingKey('RS256', 'rsa-1');
  const cases: Record<string, string | null> = {
    missing: null,
    'invalid JSON': 'not json at all',
    'empty file': '',
    'JSON without keys': JSON.stringify({ issuer: ISSUER }),
    'keys not an array': JSON.stringify({ keys: { kty: 'RSA' } }),
    'JSON array': JSON.stringify([key.jwk]),
    'key without kty': JSON.stringify({ keys: [{ n: 'AQAB' }] }),
    'symmetric key': JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', alg: 'HS256' }] }),
    'private key': JSON.stringify({ keys: [{ ...key.jwk, d: 'AAAA' }] }),
  };
  for (const [what, content] of Object.entries(cases)) {
    const file = join(dir, `${what.replaceAll(' ', '-')}.json`);
    if (content !== null) writeFileSync(file, content);
    const err = t.throws(() => BearerTokenVerifier.fromFile({ jwksFile: file, issuer: ISSUER, audience: AUDIENCE }), { instanceOf: KeywardError }, what);
    t.is(err?.code, 'failed-precondition', what);
    t.true(err?.message.includes(file), `${what}: message names the file: ${err?.message}`);
  }
  const missing = t.throws(() => BearerTokenVerifier.fromFile({ jwksFile: join(dir, 'nope.json'), issuer: ISSUER, audience: AUDIENCE }));
  t.regex(missing?.message ?? '', /ENOENT/);
  const keyless = join(dir, 'JSON-without-keys.json');
  t.regex(t.throws(() => BearerTokenVerifier.fromFile({ jwksFile: keyless, issuer: ISSUER, audience: AUDIENCE }))?.message ?? '', /"keys"/);
});
