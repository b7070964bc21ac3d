// The `authorization` section of the configuration, as a zod fragment the main schema
// embeds: who may do what on which keys (rules and roles), the optional bearer token of
// mesh sidecar mode, and the failed-attempt alert. docs/authorization.md explains each
// field. Absent rules mean nobody may do anything: the default is deny.
import { z } from 'zod';
import { OPERATIONS } from '../core/caller.js';
import { BUILTIN_ROLES, roleOperations } from './builtin-roles.js';

const int = (min: number, max: number) => z.number().int().min(min).max(max);

/** A key id pattern: key id characters and `*` (any run of characters). */
const KEY_PATTERN = /^[A-Za-z0-9._*-]{1,128}$/;
const UUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/** One value or a list of them; a rule attribute matches when any value does. */
const oneOrMany = <T extends z.ZodType>(item: T) =>
  z.union([item, z.array(item).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]) as z.output<T>[]);

/** A uid or gid: a number, or `self` for the id the daemon runs as. */
const osId = z.union([int(0, 2 ** 32 - 2), z.literal('self')]);

const matchSchema = z
  .strictObject({
    uid: oneOrMany(osId).optional(),
    gid: oneOrMany(osId).optional(),
    /** Absolute executable path; `*` matches any run of characters. */
    exe: oneOrMany(z.string().regex(/^\//, 'expected an absolute path (may contain *)')).optional(),
    container_id: oneOrMany(z.string().regex(/^[0-9a-f]{64}$/, 'expected a 64-character lowercase hex container id')).optional(),
    pod_uid: oneOrMany(z.string().regex(UUID, 'expected a pod UID')).optional(),
    /** From a verified bearer token. */
    namespace: oneOrMany(z.string().min(1)).optional(),
    service_account: oneOrMany(z.string().min(1)).optional(),
    /** Top-level claims of a verified bearer token; `*` in a value matches any run. */
    claims: z.record(z.string().min(1), oneOrMany(z.string())).optional(),
  })
  .refine((m) => Object.values(m).some((v) => v !== undefined && (Array.isArray(v) || Object.keys(v).length > 0)), {
    message: 'a rule must match on at least one attribute (uid, gid, exe, container_id, pod_uid, namespace, service_account, claims)',
  });

const ruleSchema = z
  .strictObject({
    /** Names the rule in logs and audit records. */
    name: z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, 'expected 1-64 characters of A-Z a-z 0-9 . _ -'),
    match: matchSchema,
    /** Key id patterns the rule covers, e.g. "payments-*". */
    keys: z.array(z.string().regex(KEY_PATTERN, 'expected a key id pattern (key id characters and *)')).min(1),
    roles: z.array(z.string().min(1)).default([]),
    operations: z.array(z.enum(OPERATIONS as [string, ...string[]])).default([]),
  })
  .refine((r) => r.roles.length + r.operations.length > 0, { message: 'a rule must grant at least one role or operation' });

const bearerTokenSchema = z.strictObject({
  /** The cluster's service-account JWKS (GET /openid/v1/jwks), saved to a file. */
  jwks_file: z.string().min(1),
  issuer: z.string().min(1),
  audience: z.string().min(1),
  /** true: data-plane calls without a valid token are refused with UNAUTHENTICATED. */
  required: z.boolean().default(false),
  clock_tolerance_sec: int(0, 300).default(30),
});

export const authorizationConfigSchema = z
  .strictObject({
    /** Extra roles: name → operations. The policy's roles (builtin-roles.ts) are built in. */
    roles: z.record(z.string().regex(/^[a-z][a-z0-9-]{0,63}$/, 'expected a lowercase role name'), z.array(z.enum(OPERATIONS as [string, ...string[]])).min(1)).default({}),
    rules: z.array(ruleSchema).default([]),
    bearer_token: bearerTokenSchema.optional(),
    /** Policy §8: more than `threshold` denials of one identity within `window_ms` raise an alert. */
    failed_attempts: z
      .strictObject({
        threshold: int(1, 1_000_000).default(3),
        window_ms: int(1_000, 24 * 3600 * 1000).default(300_000),
      })
      .prefault({}),
  })
  .superRefine((authz, ctx) => {
    for (const name of Object.keys(authz.roles)) {
      if (Object.hasOwn(BUILTIN_ROLES, name)) ctx.addIssue({ code: 'custom', path: ['roles', name], message: `"${name}" is a built-in role and cannot be redefined` });
    }
    const names = new Set<string>();
    authz.rules.forEach((rule, i) => {
      if (names.has(rule.name)) ctx.addIssue({ code: 'custom', path: ['rules', i, 'name'], message: `duplicate rule name "${rule.name}"` });
      names.add(rule.name);
      rule.roles.forEach((role, j) => {
        if (roleOperations(role, authz.roles) === undefined) {
          const known = [...Object.keys(BUILTIN_ROLES), ...Object.keys(authz.roles)].join(', ');
          ctx.addIssue({ code: 'custom', path: ['rules', i, 'roles', j], message: `unknown role "${role}" (known: ${known})` });
        }
      });
    });
  });

/** The validated section (snake_case as in the file). */
export type AuthorizationConfig = z.output<typeof authorizationConfigSchema>;
export type RuleConfig = AuthorizationConfig['rules'][number];
