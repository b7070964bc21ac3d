// The test Vault's AppRole auth method: roles with a role_id and secret_ids generated at
// run time, and POST /auth/<mount>/login {role_id, secret_id} issuing a token with the
// role's TTL, max TTL and policies (Vault's documented login request and answer).
import { randomBytes, randomUUID } from 'node:crypto';
import type { TokenOptions } from './token-store.js';
import { VaultHttpError } from './vault-http-error.js';

export interface AppRoleOptions {
  readonly policies?: readonly string[];
  readonly tokenTtlSeconds?: number;
  readonly tokenMaxTtlSeconds?: number;
  readonly renewable?: boolean;
}

interface AppRole {
  readonly name: string;
  readonly roleId: string;
  readonly secretIds: Set<string>;
  readonly options: AppRoleOptions;
}

export class AppRoleAuth {
  readonly #rolesById = new Map<string, AppRole>();
  readonly #rolesByName = new Map<string, AppRole>();
  logins = 0;

  /** Creates a role; returns its role_id and a first secret_id. */
  addRole(name: string, options: AppRoleOptions = {}): { roleId: string; secretId: string } {
    const role: AppRole = { name, roleId: randomUUID(), secretIds: new Set(), options };
    this.#rolesById.set(role.roleId, role);
    this.#rolesByName.set(name, role);
    return { roleId: role.roleId, secretId: this.newSecretId(name) };
  }

  newSecretId(name: string): string {
    const role = this.#rolesByName.get(name);
    if (role === undefined) throw new Error(`no AppRole ${name}`);
    const secretId = randomBytes(24).toString('hex');
    role.secretIds.add(secretId);
    return secretId;
  }

  destroySecretId(name: string, secretId: string): void {
    this.#rolesByName.get(name)?.secretIds.delete(secretId);
  }

  /** The token to issue for a login request body, or Vault's error. */
  login(body: Record<string, unknown>, namespace: string): TokenOptions {
    const roleId = typeof body['role_id'] === 'string' ? body['role_id'] : '';
    const secretId = typeof body['secret_id'] === 'string' ? body['secret_id'] : '';
    if (roleId === '') throw VaultHttpError.badRequest('missing role_id');
    const role = this.#rolesById.get(roleId);
    if (role === undefined || !role.secretIds.has(secretId)) throw VaultHttpError.badRequest('invalid role or secret ID');
    this.logins++;
    const ttl = role.options.tokenTtlSeconds ?? 3600;
    return {
      policies: ['default', ...(role.options.policies ?? [])],
      ttlSeconds: ttl,
      maxTtlSeconds: role.options.tokenMaxTtlSeconds ?? 0,
      renewable: role.options.renewable ?? true,
      namespace,
      path: 'auth/approle/login',
      displayName: 'approle',
      meta: { role_name: role.name },
    };
  }
}
