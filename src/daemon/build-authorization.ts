// Builds the authorization layer from the `authorization` section: the compiled policy,
// the /proc inspector, the bearer token verifier of mesh sidecar mode, and the
// failed-attempt monitor whose alerts become a metric and an error-level audit event.
// SIGHUP goes through reload(): a new section is compiled completely before it replaces
// the old one, so an invalid policy never half-applies.
import { AccessPolicy } from '../authz/access-policy.js';
import { Authorizer, type AuthorizerOptions } from '../authz/authorizer.js';
import { BearerTokenVerifier } from '../authz/bearer-token-verifier.js';
import { FailedAttemptMonitor, type FailedAttemptAlert } from '../authz/failed-attempt-monitor.js';
import { ProcessInspector } from '../authz/process-inspector.js';
import type { AuthorizationSettings } from '../config/config-schema.js';
import type { Logger } from '../core/logger.js';

export interface AuthorizationParts {
  readonly authorizer: Authorizer;
  /** Compiles `next` and swaps it in; throws (keeping the current policy) when it cannot. */
  reload(next: AuthorizationSettings): { rules: number };
}

export interface AuthorizationEnv {
  readonly logger: Logger;
  readonly onAlert: (alert: FailedAttemptAlert) => void;
  /** The clock of failure counting (tests control it). */
  readonly now?: () => number;
  /** Where /proc is (tests point it at fixtures). */
  readonly procRoot?: string;
  readonly recheckBy?: 'pidfd' | 'start-time';
}

function tokensOf(settings: AuthorizationSettings, now?: () => number): AuthorizerOptions['tokens'] {
  const bearer = settings.bearer_token;
  if (bearer === undefined) return undefined;
  const verifier = BearerTokenVerifier.fromFile({
    jwksFile: bearer.jwks_file,
    issuer: bearer.issuer,
    audience: bearer.audience,
    clockToleranceSec: bearer.clock_tolerance_sec,
    ...(now ? { now } : {}),
  });
  return { verifier, required: bearer.required };
}

export function buildAuthorization(settings: AuthorizationSettings, env: AuthorizationEnv): AuthorizationParts {
  const monitor = new FailedAttemptMonitor({
    threshold: settings.failed_attempts.threshold,
    windowMs: settings.failed_attempts.window_ms,
    onAlert: env.onAlert,
    ...(env.now ? { now: env.now } : {}),
  });
  const log = env.logger.child({ component: 'authz' });
  const policy = AccessPolicy.compile(settings);
  const tokens = tokensOf(settings, env.now);
  const authorizer = new Authorizer({
    policy,
    processes: new ProcessInspector(env.procRoot),
    ...(tokens ? { tokens } : {}),
    ...(env.recheckBy ? { recheckBy: env.recheckBy } : {}),
    onFailure: (attempt) => {
      log.debug({ subject: attempt.subject, operation: attempt.operation, key_id: attempt.keyId, reason: attempt.reason }, 'access refused');
      monitor.record(attempt);
    },
  });
  if (policy.ruleCount === 0) log.warn('authorization has no rules: every call is denied');
  return {
    authorizer,
    reload(next) {
      const nextPolicy = AccessPolicy.compile(next);
      const nextTokens = tokensOf(next, env.now);
      authorizer.replace(nextPolicy, nextTokens);
      return { rules: nextPolicy.ruleCount };
    },
  };
}
