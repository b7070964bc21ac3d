// The test Vault's ACL: named policies of path rules with capabilities, matched the way
// Vault matches them (a trailing `*` is a prefix glob, `+` one path segment, the most
// specific rule wins). `root` may do everything; `default` may look up, renew and revoke
// its own token.

export type Capability = 'create' | 'read' | 'update' | 'delete' | 'list' | 'sudo' | 'deny';

export interface PathRule {
  readonly path: string;
  readonly capabilities: readonly Capability[];
}

const DEFAULT_POLICY: readonly PathRule[] = [
  { path: 'auth/token/lookup-self', capabilities: ['read'] },
  { path: 'auth/token/renew-self', capabilities: ['update'] },
  { path: 'auth/token/revoke-self', capabilities: ['update'] },
];

function matches(rule: string, path: string): boolean {
  const glob = rule.endsWith('*');
  const ruleParts = (glob ? rule.slice(0, -1) : rule).split('/');
  const pathParts = path.split('/');
  if (!glob && ruleParts.length !== pathParts.length) return false;
  for (let i = 0; i < ruleParts.length; i++) {
    const r = ruleParts[i]!;
    const p = pathParts[i];
    if (p === undefined) return false;
    const last = i === ruleParts.length - 1;
    if (r === '+') continue;
    if (last && glob) return p.startsWith(r);
    if (r !== p) return false;
  }
  return true;
}

/** Longer (more specific) rules first; a glob loses to an exact rule of equal length. */
const specificity = (rule: string) => rule.replace(/\*$/, '').length * 2 + (rule.endsWith('*') ? 0 : 1);

export class AclPolicies {
  readonly #policies = new Map<string, readonly PathRule[]>([['default', DEFAULT_POLICY]]);

  set(name: string, rules: readonly PathRule[]): void {
    this.#policies.set(name, rules);
  }

  /** Whether tokens with `policies` may use any of `capabilities` on `path`. */
  allows(policies: readonly string[], path: string, capabilities: readonly Capability[]): boolean {
    if (policies.includes('root')) return true;
    const rules = policies
      .flatMap((name) => this.#policies.get(name) ?? [])
      .filter((rule) => matches(rule.path, path))
      .sort((a, b) => specificity(b.path) - specificity(a.path));
    const best = rules[0];
    if (best === undefined) return false;
    const granted = rules.filter((r) => specificity(r.path) === specificity(best.path)).flatMap((r) => r.capabilities);
    if (granted.includes('deny')) return false;
    return capabilities.some((c) => granted.includes(c));
  }
}
