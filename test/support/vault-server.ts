// A test Vault: a real HTTP(S) server on 127.0.0.1 with a random port, faithful to
// Vault's documented HTTP API for the endpoints keyward uses — Transit (keys, config,
// rotate, datakey, encrypt, decrypt, rewrap, sign, verify, hmac), token lookup-self /
// renew-self / revoke-self, AppRole and Kubernetes login — with Vault's JSON shapes
// (`{"data": …}`, `{"auth": …}`, `{"errors": [...]}` with 400/403/404/429/500/503),
// X-Vault-Token and X-Vault-Namespace, token TTLs, ACL policies, and injectable faults.
// No Vault binary can be installed here; the same tests run against a real Vault when
// VAULT_ADDR and VAULT_TOKEN are set (see docs/vault.md).
import { randomUUID } from 'node:crypto';
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { AclPolicies, type Capability, type PathRule } from './vault-server/acl-policies.js';
import { AppRoleAuth } from './vault-server/approle-auth.js';
import { FaultInjector } from './vault-server/fault-injector.js';
import { KubernetesAuth } from './vault-server/kubernetes-auth.js';
import { TokenStore, type TokenEntry, type TokenOptions } from './vault-server/token-store.js';
import { TransitEngine } from './vault-server/transit-engine.js';
import { VaultHttpError } from './vault-server/vault-http-error.js';

export { VaultHttpError } from './vault-server/vault-http-error.js';

export interface VaultServerOptions {
  /** Vault Enterprise namespace everything lives in; requests must name it. */
  readonly namespace?: string;
  /** Transit mount paths (default ["transit"]). */
  readonly transitMounts?: readonly string[];
  readonly approleMount?: string;
  readonly kubernetesMount?: string;
  /** Serve HTTPS with this key and certificate (and require client certificates from `ca`). */
  readonly tls?: { readonly key: string; readonly cert: string; readonly clientCa?: string };
  /** Largest request body accepted (Vault's default is 32 MiB). */
  readonly maxRequestBytes?: number;
}

export interface RequestRecord {
  readonly method: string;
  /** Path relative to /v1/, without the query string. */
  readonly path: string;
  readonly status: number;
  readonly namespace: string;
  readonly at: number;
  /** Whether the request carried an X-Vault-Token header. */
  readonly withToken: boolean;
  /** The token it carried (tests compare it; never print it). */
  readonly token: string | undefined;
}

type Body = Record<string, unknown>;

interface Answer {
  readonly status: number;
  readonly data?: Body | null;
  readonly auth?: Body | null;
  readonly warnings?: readonly string[];
  /** A body sent as is, not in the usual envelope (sys/health). */
  readonly raw?: Body;
}

const normalizeNamespace = (ns: string | undefined) => (ns ?? '').replace(/^\/+|\/+$/g, '');

export class TestVaultServer {
  readonly #server: Server;
  readonly #sockets = new Set<Socket>();
  readonly #namespace: string;
  readonly #mounts: Map<string, TransitEngine>;
  readonly #approleMount: string;
  readonly #kubernetesMount: string;
  readonly #maxRequestBytes: number;
  #skewMs = 0;
  #inFlight = 0;
  #closed = false;

  readonly tokens: TokenStore;
  readonly policies = new AclPolicies();
  readonly approle = new AppRoleAuth();
  readonly kubernetes = new KubernetesAuth();
  readonly faults = new FaultInjector();
  readonly requests: RequestRecord[] = [];
  /** The most requests handled at the same time. */
  maxInFlight = 0;
  /** A token with the root policy that never expires. */
  readonly rootToken: string;
  address = '';

  private constructor(options: VaultServerOptions) {
    const now = () => Date.now() + this.#skewMs;
    this.#namespace = normalizeNamespace(options.namespace);
    this.#mounts = new Map((options.transitMounts ?? ['transit']).map((m) => [m, new TransitEngine(now)]));
    this.#approleMount = options.approleMount ?? 'approle';
    this.#kubernetesMount = options.kubernetesMount ?? 'kubernetes';
    this.#maxRequestBytes = options.maxRequestBytes ?? 32 * 1024 * 1024;
    this.tokens = new TokenStore(now);
    this.rootToken = this.tokens.create({ policies: ['root'], ttlSeconds: 0, renewable: false, namespace: this.#namespace, path: 'auth/token/root' }).id;
    const handler = (req: IncomingMessage, res: ServerResponse) => {
      res.on('error', () => {}); // a client that went away is not the server's problem
      void this.#handle(req, res);
    };
    this.#server = options.tls
      ? createHttpsServer(
          { key: options.tls.key, cert: options.tls.cert, ...(options.tls.clientCa ? { ca: options.tls.clientCa, requestCert: true, rejectUnauthorized: true } : {}) },
          handler,
        )
      : createHttpServer(handler);
    this.#server.keepAliveTimeout = 30_000;
    this.#server.on('connection', (socket: Socket) => {
      if (this.faults.isDown) {
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.on('close', () => this.#sockets.delete(socket));
    });
    this.faults.onDown = () => this.dropConnections();
  }

  static async start(options: VaultServerOptions = {}): Promise<TestVaultServer> {
    const vault = new TestVaultServer(options);
    await new Promise<void>((resolve, reject) => {
      vault.#server.once('error', reject);
      vault.#server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = vault.#server.address() as AddressInfo;
    vault.address = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
    return vault;
  }

  /** The Transit engine at `mount` (to inspect or change keys behind the backend's back). */
  transit(mount = 'transit'): TransitEngine {
    const engine = this.#mounts.get(mount);
    if (engine === undefined) throw new Error(`no transit mount ${mount}`);
    return engine;
  }

  /** A token in the server's namespace. */
  createToken(options: TokenOptions = {}): TokenEntry {
    return this.tokens.create({ namespace: this.#namespace, ...options });
  }

  setPolicy(name: string, rules: readonly PathRule[]): void {
    this.policies.set(name, rules);
  }

  /** Moves the server's clock (token TTLs) forward. */
  advanceClock(ms: number): void {
    this.#skewMs += ms;
  }

  /** Resets every open connection (keep-alive ones too). */
  dropConnections(): void {
    for (const socket of this.#sockets) socket.destroy();
  }

  count(predicate: (r: RequestRecord) => boolean): number {
    return this.requests.filter(predicate).length;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.dropConnections();
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  // --- request handling -----------------------------------------------------------------

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.#inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.#inFlight);
    const url = new URL(req.url ?? '/', 'http://vault');
    const path = url.pathname.replace(/^\/v1\//, '');
    const namespace = normalizeNamespace(req.headers['x-vault-namespace'] as string | undefined);
    const token = req.headers['x-vault-token'] as string | undefined;
    const record = (status: number) =>
      this.requests.push({ method: req.method ?? '', path, status, namespace, at: Date.now(), withToken: token !== undefined && token !== '', token });
    try {
      const raw = await this.#readBody(req);
      if (this.faults.takeDrop() || this.faults.isDown) {
        record(0);
        req.socket.destroy();
        return;
      }
      if (this.faults.latencyMs > 0) await new Promise((r) => setTimeout(r, this.faults.latencyMs));
      if (this.faults.isDown || this.#closed) {
        record(0);
        req.socket.destroy();
        return;
      }
      const answer = await this.#answer(req.method ?? 'GET', url, path, namespace, token, raw);
      record(answer.status);
      this.#send(res, answer);
    } catch (err) {
      const e = err instanceof VaultHttpError ? err : new VaultHttpError(500, [err instanceof Error ? err.message : String(err)]);
      record(e.status);
      this.#sendError(res, e);
    } finally {
      this.#inFlight--;
    }
  }

  async #answer(method: string, url: URL, path: string, namespace: string, token: string | undefined, raw: Buffer): Promise<Answer> {
    if (!url.pathname.startsWith('/v1/')) throw VaultHttpError.notFound();
    if (this.faults.isSealed) throw new VaultHttpError(503, ['Vault is sealed']);
    if (this.faults.isRateLimited) throw new VaultHttpError(429, [`request path "${path}": rate limit quota exceeded`]);
    const scripted = this.faults.takeFailure();
    if (scripted !== undefined) throw new VaultHttpError(scripted.status, scripted.errors);
    let body: Body = {};
    if (raw.length > 0) {
      try {
        const parsed: unknown = JSON.parse(raw.toString('utf8'));
        if (parsed !== null && typeof parsed === 'object' && !Array.isArray(parsed)) body = parsed as Body;
        else throw new Error('not an object');
      } catch (err) {
        throw VaultHttpError.badRequest(`failed to parse JSON input: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    const write = method === 'POST' || method === 'PUT';
    const segments = path.split('/');

    if (path === 'sys/health' && method === 'GET') {
      return { status: 200, raw: { initialized: true, sealed: false, standby: false, version: 'keyward-test-vault' } };
    }

    // Unauthenticated: login endpoints of the auth mounts (in the server's namespace).
    if (write && segments.length === 3 && segments[0] === 'auth' && segments[2] === 'login') {
      if (namespace !== this.#namespace) throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
      const mount = segments[1];
      let tokenOptions: TokenOptions;
      if (mount === this.#approleMount) tokenOptions = this.approle.login(body, namespace);
      else if (mount === this.#kubernetesMount) tokenOptions = this.kubernetes.login(body, namespace);
      else throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
      const entry = this.tokens.create(tokenOptions);
      return { status: 200, data: null, auth: this.tokens.authBlock(entry) };
    }

    // Everything else needs a valid token of this namespace.
    const entry = this.tokens.lookup(token, namespace);
    if (entry === undefined) throw VaultHttpError.permissionDenied();

    if (segments[0] === 'auth' && segments[1] === 'token') {
      const op = segments.slice(2).join('/');
      if (op === 'lookup-self' && (method === 'GET' || write)) {
        this.#authorize(entry, path, ['read']);
        return { status: 200, data: this.tokens.lookupData(entry) };
      }
      if (op === 'renew-self' && write) {
        this.#authorize(entry, path, ['update']);
        const { auth, warnings } = this.tokens.renew(entry, body);
        return { status: 200, data: null, auth, warnings };
      }
      if (op === 'revoke-self' && write) {
        this.#authorize(entry, path, ['update']);
        this.tokens.revoke(entry.id);
        return { status: 204 };
      }
      throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
    }

    if (namespace !== this.#namespace) throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
    // The longest mount path that prefixes the request path handles it, as in Vault's router.
    const mount = [...this.#mounts.keys()].filter((m) => path.startsWith(`${m}/`)).sort((a, b) => b.length - a.length)[0];
    if (mount === undefined) throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
    return this.#transit(this.#mounts.get(mount)!, method, write, path.slice(mount.length + 1).split('/'), path, entry, body);
  }

  async #transit(engine: TransitEngine, method: string, write: boolean, rest: string[], path: string, token: TokenEntry, body: Body): Promise<Answer> {
    const [op, a, b, c] = rest;
    const unsupported = () => new VaultHttpError(405, ['1 error occurred:\n\t* unsupported operation\n\n']);
    if (op === 'keys' && a !== undefined && b === undefined) {
      if (method === 'GET') {
        this.#authorize(token, path, ['read']);
        const data = engine.readKey(a);
        if (data === undefined) throw VaultHttpError.notFound();
        return { status: 200, data };
      }
      if (!write) throw unsupported();
      this.#authorize(token, path, engine.has(a) ? ['update'] : ['create', 'update']);
      const { data, warnings } = await engine.createKey(a, body);
      return { status: 200, data, ...(warnings ? { warnings } : {}) };
    }
    if (op === 'keys' && a !== undefined && (b === 'rotate' || b === 'config') && c === undefined) {
      if (!write) throw unsupported();
      this.#authorize(token, path, ['update']);
      return { status: 200, data: b === 'rotate' ? await engine.rotate(a) : engine.configure(a, body) };
    }
    if (!write) throw unsupported();
    if (op === 'datakey' && a !== undefined && b !== undefined && c === undefined) {
      this.#authorize(token, path, ['update']);
      return { status: 200, data: engine.datakey(b, a, body) };
    }
    if ((op === 'encrypt' || op === 'decrypt' || op === 'rewrap') && a !== undefined && b === undefined) {
      if (op === 'encrypt') {
        const mayUpsert = this.policies.allows(token.policies, path, ['create']);
        if (!mayUpsert) this.#authorize(token, path, ['update']);
        return { status: 200, data: await engine.encrypt(a, body, mayUpsert) };
      }
      this.#authorize(token, path, ['update']);
      return { status: 200, data: op === 'decrypt' ? engine.decrypt(a, body) : engine.rewrap(a, body) };
    }
    if ((op === 'sign' || op === 'verify' || op === 'hmac') && a !== undefined && c === undefined) {
      this.#authorize(token, path, ['update']);
      if (op === 'sign') return { status: 200, data: await engine.sign(a, body, b) };
      if (op === 'verify') return { status: 200, data: engine.verify(a, body, b) };
      return { status: 200, data: engine.hmac(a, body, b) };
    }
    throw VaultHttpError.notFound([`no handler for route "${path}". route entry not found.`]);
  }

  #authorize(token: TokenEntry, path: string, capabilities: readonly Capability[]): void {
    if (!this.policies.allows(token.policies, path, capabilities)) throw VaultHttpError.permissionDenied();
  }

  #readBody(req: IncomingMessage): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      req.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > this.#maxRequestBytes) {
          reject(new VaultHttpError(413, ['http: request body too large']));
          req.destroy();
          return;
        }
        chunks.push(chunk);
      });
      req.on('end', () => resolve(Buffer.concat(chunks)));
      req.on('error', reject);
    });
  }

  #send(res: ServerResponse, answer: Answer): void {
    // The client may be gone (a timeout, a fault that reset the connection).
    if (res.destroyed || res.writableEnded) return;
    if (answer.status === 204) {
      res.writeHead(204).end();
      return;
    }
    const payload = answer.raw ?? {
      request_id: randomUUID(),
      lease_id: '',
      renewable: false,
      lease_duration: 0,
      data: answer.data ?? null,
      wrap_info: null,
      warnings: answer.warnings && answer.warnings.length > 0 ? answer.warnings : null,
      auth: answer.auth ?? null,
    };
    const json = Buffer.from(JSON.stringify(payload));
    res.writeHead(answer.status, { 'content-type': 'application/json', 'content-length': json.length, 'cache-control': 'no-store' }).end(json);
  }

  #sendError(res: ServerResponse, err: VaultHttpError): void {
    if (res.headersSent || res.destroyed) return;
    const json = Buffer.from(JSON.stringify({ errors: err.errors }));
    res.writeHead(err.status, { 'content-type': 'application/json', 'content-length': json.length, 'cache-control': 'no-store' }).end(json);
  }
}

/** Starts a test Vault on 127.0.0.1 with a random port. */
export function startVaultServer(options: VaultServerOptions = {}): Promise<TestVaultServer> {
  return TestVaultServer.start(options);
}
