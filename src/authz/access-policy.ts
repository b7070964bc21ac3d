// The policy, compiled once per load (start, SIGHUP): each rule becomes an identity
// predicate, an operation set and key matchers. A call asks the Grants of its identity,
// i.e. the rules whose predicates the identity satisfies — computed once per connection
// (or per bearer token) — and each (operation, key) decision is remembered, so a
// 100-rule policy costs the hot path a map lookup. Nothing matches: deny.
import type { CallerIdentity, Operation } from '../core/caller.js';
import type { AuthorizationConfig, RuleConfig } from './authorization-config.js';
import { roleOperations } from './builtin-roles.js';
import { anyGlob, compileGlob, type GlobMatcher } from './glob-pattern.js';

/** The ids `self` stands for in uid/gid matches. */
export interface SelfIds {
  readonly uid: number;
  readonly gid: number;
}

interface CompiledRule {
  readonly name: string;
  readonly matches: (identity: CallerIdentity) => boolean;
  readonly operations: ReadonlySet<Operation>;
  readonly keys: readonly GlobMatcher[];
}

type IdentityTest = (identity: CallerIdentity) => boolean;

/** Claim values a pattern can match: strings, numbers, booleans, and arrays of them. */
function claimStrings(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  if (typeof value === 'number' || typeof value === 'boolean') return [String(value)];
  if (Array.isArray(value)) return value.flatMap((v) => (typeof v === 'string' || typeof v === 'number' ? [String(v)] : []));
  return [];
}

function optionalText(read: (identity: CallerIdentity) => string | undefined, patterns: readonly string[]): IdentityTest {
  const matchers = patterns.map(compileGlob);
  return (identity) => {
    const value = read(identity);
    return value !== undefined && anyGlob(matchers, value);
  };
}

function identityTests(match: RuleConfig['match'], self: SelfIds): IdentityTest[] {
  const tests: IdentityTest[] = [];
  const ids = (values: ReadonlyArray<number | 'self'>, own: number) => new Set(values.map((v) => (v === 'self' ? own : v)));
  if (match.uid) {
    const uids = ids(match.uid, self.uid);
    tests.push((i) => uids.has(i.peer.uid));
  }
  if (match.gid) {
    const gids = ids(match.gid, self.gid);
    tests.push((i) => gids.has(i.peer.gid));
  }
  // Exact values for ids: a `*` in them was already refused by the schema.
  if (match.exe) tests.push(optionalText((i) => (i.exeVerified === true ? i.exe : undefined), match.exe));
  if (match.container_id) tests.push(optionalText((i) => i.containerId, match.container_id));
  if (match.pod_uid) {
    const pods = new Set(match.pod_uid.map((p) => p.toLowerCase()));
    tests.push((i) => i.podUid !== undefined && pods.has(i.podUid));
  }
  if (match.namespace) tests.push(optionalText((i) => i.namespace, match.namespace));
  if (match.service_account) tests.push(optionalText((i) => i.serviceAccount, match.service_account));
  for (const [claim, patterns] of Object.entries(match.claims ?? {})) {
    const matchers = patterns.map(compileGlob);
    tests.push((i) => i.claims !== undefined && Object.hasOwn(i.claims, claim) && claimStrings(i.claims[claim]).some((v) => anyGlob(matchers, v)));
  }
  return tests;
}

function compileRule(rule: RuleConfig, roles: AuthorizationConfig['roles'], self: SelfIds): CompiledRule {
  const tests = identityTests(rule.match, self);
  const operations = new Set<Operation>(rule.operations as Operation[]);
  for (const role of rule.roles) for (const op of roleOperations(role, roles) ?? []) operations.add(op as Operation);
  return {
    name: rule.name,
    matches: (identity) => tests.every((test) => test(identity)),
    operations,
    keys: rule.keys.map(compileGlob),
  };
}

/** Remembered decisions per identity; cleared when it grows past this (arbitrary key ids). */
const MAX_REMEMBERED_DECISIONS = 4_096;

/** What the policy grants one identity. */
export class Grants {
  readonly #rules: readonly CompiledRule[];
  /** operation → key id → decision: no string is built per call. */
  readonly #decisions = new Map<Operation, Map<string, boolean>>();
  #remembered = 0;

  constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules;
  }

  /** Names of the rules that apply to the identity (a denial's reason lists them). */
  get ruleNames(): string[] {
    return this.#rules.map((r) => r.name);
  }

  permits(operation: Operation, keyId: string): boolean {
    let byKey = this.#decisions.get(operation);
    const known = byKey?.get(keyId);
    if (known !== undefined) return known;
    const decision = this.#rules.some((rule) => rule.operations.has(operation) && anyGlob(rule.keys, keyId));
    if (this.#remembered >= MAX_REMEMBERED_DECISIONS) {
      this.#decisions.clear();
      this.#remembered = 0;
      byKey = undefined;
    }
    if (byKey === undefined) {
      byKey = new Map();
      this.#decisions.set(operation, byKey);
    }
    byKey.set(keyId, decision);
    this.#remembered++;
    return decision;
  }

  /** Whether any rule grants the operation on some key. */
  grantsAny(operation: Operation): boolean {
    return this.#rules.some((rule) => rule.operations.has(operation));
  }
}

export class AccessPolicy {
  readonly #rules: readonly CompiledRule[];

  private constructor(rules: readonly CompiledRule[]) {
    this.#rules = rules;
  }

  /** Compiles a validated `authorization` section. */
  static compile(config: Pick<AuthorizationConfig, 'rules' | 'roles'>, self: SelfIds = ownIds()): AccessPolicy {
    return new AccessPolicy(config.rules.map((rule) => compileRule(rule, config.roles, self)));
  }

  get ruleCount(): number {
    return this.#rules.length;
  }

  /** The grants of one identity: the rules whose every attribute the identity matches. */
  grantsFor(identity: CallerIdentity): Grants {
    return new Grants(this.#rules.filter((rule) => rule.matches(identity)));
  }
}

function ownIds(): SelfIds {
  return { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 };
}
