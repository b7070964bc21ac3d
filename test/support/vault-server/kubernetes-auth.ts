// The test Vault's Kubernetes auth method: roles bound to service-account JWTs (opaque
// strings generated at run time here; a real Vault checks them with the TokenReview API),
// and POST /auth/<mount>/login {role, jwt} issuing a token with the role's TTLs.
import { randomBytes } from 'node:crypto';
import type { TokenOptions } from './token-store.js';
import { VaultHttpError } from './vault-http-error.js';

export interface KubernetesRoleOptions {
  readonly policies?: readonly string[];
  readonly tokenTtlSeconds?: number;
  readonly tokenMaxTtlSeconds?: number;
}

interface KubernetesRole {
  readonly name: string;
  readonly jwts: Set<string>;
  readonly options: KubernetesRoleOptions;
}

/** A JWT-shaped random string (header.payload.signature), as a projected token looks. */
function fakeServiceAccountJwt(): string {
  const part = (n: number) => randomBytes(n).toString('base64url');
  return `eyJhbGciOiJSUzI1NiJ9.${part(96)}.${part(64)}`;
}

export class KubernetesAuth {
  readonly #roles = new Map<string, KubernetesRole>();
  logins = 0;

  /** Creates a role; returns a service-account JWT it accepts. */
  addRole(name: string, options: KubernetesRoleOptions = {}): string {
    this.#roles.set(name, { name, jwts: new Set(), options });
    return this.newJwt(name);
  }

  /** A new projected token for the role (kubelet rotates them). */
  newJwt(name: string): string {
    const role = this.#roles.get(name);
    if (role === undefined) throw new Error(`no Kubernetes role ${name}`);
    const jwt = fakeServiceAccountJwt();
    role.jwts.add(jwt);
    return jwt;
  }

  revokeJwt(name: string, jwt: string): void {
    this.#roles.get(name)?.jwts.delete(jwt);
  }

  login(body: Record<string, unknown>, namespace: string): TokenOptions {
    const roleName = typeof body['role'] === 'string' ? body['role'] : '';
    const jwt = typeof body['jwt'] === 'string' ? body['jwt'] : '';
    if (roleName === '') throw VaultHttpError.badRequest('missing role');
    if (jwt === '') throw VaultHttpError.badRequest('missing jwt');
    const role = this.#roles.get(roleName);
    if (role === undefined) throw VaultHttpError.badRequest(`invalid role name "${roleName}"`);
    if (!role.jwts.has(jwt)) throw VaultHttpError.permissionDenied();
    this.logins++;
    return {
      policies: ['default', ...(role.options.policies ?? [])],
      ttlSeconds: role.options.tokenTtlSeconds ?? 3600,
      maxTtlSeconds: role.options.tokenMaxTtlSeconds ?? 0,
      renewable: true,
      namespace,
      path: 'auth/kubernetes/login',
      displayName: `kubernetes-${roleName}`,
      meta: { role: roleName },
    };
  }
}
