// The HTTP(S) transport under node-vault, plugged in through its `request-promise`
// option instead of node-vault's own axios transport, because that one (node-vault
// 0.12.0): follows HTTP(S)_PROXY from the environment, turns TLS verification off when
// VAULT_SKIP_VERIFY is set to anything, cannot be cancelled (it drops AbortSignal), and
// rejects with axios errors whose `config.headers` carry the X-Vault-Token. This one: a
// keep-alive agent bounded by max_concurrent_requests, TLS from the configuration only
// (CA, client certificate, server name; TLS ≥ 1.2), a hard per-request deadline, a cap
// on the response size, errors without headers or bodies, and response buffers (which
// hold DEKs) zeroized once parsed.
import { Agent as HttpAgent, request as httpRequest, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import type { SecretRedactor } from './secret-redactor.js';
import { VaultRequestError } from './vault-request-error.js';

export interface VaultTlsMaterial {
  readonly ca?: string;
  readonly cert?: string;
  readonly key?: string;
  readonly serverName?: string;
}

export interface VaultTransportOptions {
  readonly timeoutMs: number;
  readonly maxSockets: number;
  readonly tls?: VaultTlsMaterial;
  readonly redactor: SecretRedactor;
  /** Largest response body accepted. */
  readonly maxResponseBytes?: number;
}

/** What node-vault passes to its request function. */
export interface TransportRequest {
  readonly method: string;
  readonly uri: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly json?: unknown;
  /** Our own option, passed through node-vault's requestOptions. */
  readonly timeoutMs?: number;
}

/** What node-vault's handleVaultResponse expects back. */
export interface TransportResponse {
  readonly statusCode: number;
  readonly body: unknown;
  readonly request: { readonly path: string };
}

const DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024;

/** Failures where the request cannot have reached Vault's request handler. */
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'EADDRNOTAVAIL']);

export class VaultTransport {
  readonly #options: VaultTransportOptions;
  readonly #agent: HttpAgent | HttpsAgent;
  readonly #https: boolean;

  constructor(address: URL, options: VaultTransportOptions) {
    this.#options = options;
    this.#https = address.protocol === 'https:';
    const common = { keepAlive: true, maxSockets: options.maxSockets, scheduling: 'lifo' as const, timeout: 60_000 };
    this.#agent = this.#https
      ? new HttpsAgent({
          ...common,
          minVersion: 'TLSv1.2',
          rejectUnauthorized: true,
          ...(options.tls?.ca !== undefined ? { ca: options.tls.ca } : {}),
          ...(options.tls?.cert !== undefined ? { cert: options.tls.cert } : {}),
          ...(options.tls?.key !== undefined ? { key: options.tls.key } : {}),
          ...(options.tls?.serverName !== undefined ? { servername: options.tls.serverName } : {}),
        })
      : new HttpAgent(common);
  }

  /** The object node-vault's `request-promise` option expects: `.defaults()` gives the request function. */
  asRequestPromise(): { defaults: () => (req: TransportRequest) => Promise<TransportResponse> } {
    const fn = (req: TransportRequest) => this.request(req);
    return { defaults: () => fn };
  }

  request(req: TransportRequest): Promise<TransportResponse> {
    const url = new URL(req.uri);
    const timeoutMs = req.timeoutMs ?? this.#options.timeoutMs;
    const payload = req.json !== undefined && req.json !== null && typeof req.json === 'object' ? Buffer.from(JSON.stringify(req.json)) : undefined;
    const headers: Record<string, string | number> = { accept: 'application/json' };
    for (const [name, value] of Object.entries(req.headers ?? {})) if (value !== '') headers[name] = value;
    if (payload !== undefined) {
      headers['content-type'] = 'application/json';
      headers['content-length'] = payload.length;
    } else if (req.method !== 'GET') {
      headers['content-length'] = 0;
    }
    const where = `${req.method} ${url.pathname}`;
    return new Promise<TransportResponse>((resolve, reject) => {
      let settled = false;
      const finish = (err: VaultRequestError | undefined, response?: TransportResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        payload?.fill(0);
        if (err !== undefined) reject(err);
        else resolve(response!);
      };
      const send = this.#https ? httpsRequest : httpRequest;
      const request = send(
        { protocol: url.protocol, hostname: url.hostname, port: url.port, path: `${url.pathname}${url.search}`, method: req.method, headers, agent: this.#agent },
        (res) => this.#collect(res, where, url.pathname, finish),
      );
      const timer = setTimeout(() => {
        const err = new VaultRequestError('timeout', `${where}: no answer from Vault within ${timeoutMs} ms`);
        request.destroy(err);
        finish(err);
      }, timeoutMs);
      timer.unref();
      request.on('error', (err: NodeJS.ErrnoException) => finish(this.#networkError(err, where)));
      request.end(payload);
    });
  }

  #collect(res: IncomingMessage, where: string, path: string, finish: (err: VaultRequestError | undefined, response?: TransportResponse) => void): void {
    const max = this.#options.maxResponseBytes ?? DEFAULT_MAX_RESPONSE_BYTES;
    const chunks: Buffer[] = [];
    let size = 0;
    const wipe = () => {
      for (const chunk of chunks) chunk.fill(0);
    };
    res.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > max) {
        wipe();
        res.destroy();
        finish(new VaultRequestError('protocol', `${where}: the answer is larger than ${max} bytes`));
        return;
      }
      chunks.push(chunk);
    });
    res.on('error', (err: NodeJS.ErrnoException) => {
      wipe();
      finish(this.#networkError(err, where));
    });
    res.on('end', () => {
      const raw = Buffer.concat(chunks);
      wipe();
      let body: unknown;
      try {
        if (raw.length > 0) body = JSON.parse(raw.toString('utf8'));
      } catch {
        // Not JSON (a proxy's HTML page, a truncated answer): the status decides.
        if ((res.statusCode ?? 0) < 300) {
          raw.fill(0);
          finish(new VaultRequestError('protocol', `${where}: the answer (HTTP ${res.statusCode}) is not JSON`));
          return;
        }
        body = undefined;
      } finally {
        raw.fill(0);
      }
      finish(undefined, { statusCode: res.statusCode ?? 0, body, request: { path } });
    });
  }

  #networkError(err: NodeJS.ErrnoException, where: string): VaultRequestError {
    if (err instanceof VaultRequestError) return err;
    const code = err.code ?? 'error';
    const tlsHandshake = code.startsWith('ERR_TLS') || code.includes('CERT') || code === 'EPROTO' || /certificate|self.signed|handshake/i.test(err.message);
    return new VaultRequestError('network', `${where}: ${code}: ${this.#options.redactor.clip(err.message, 200)}`, {
      mayHaveReachedVault: !(NOT_SENT_CODES.has(code) || tlsHandshake),
    });
  }

  /** Closes the idle keep-alive connections. */
  destroy(): void {
    this.#agent.destroy();
  }
}
