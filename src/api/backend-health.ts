// grpc.health.v1 on the data plane. "" and "keyward.v1.KeyService" are SERVING while
// the daemon serves — during a backend outage calls served from the DEK cache still
// work, and a probe that restarted the daemon then would throw those caches away —
// and each backend has its own entry "keyward.backend.<name>" that follows its
// readiness (Vault circuit open, HSM token gone → NOT_SERVING).
import type { Server } from '@grpc/grpc-js';
import { HealthImplementation, type ServingStatus } from 'grpc-health-check';
import type { KeyBackend } from '../core/key-backend.js';

const POLL_MS = 2_000;
export const KEY_SERVICE_NAME = 'keyward.v1.KeyService';

export class BackendHealth {
  readonly #health = new HealthImplementation({ '': 'NOT_SERVING', [KEY_SERVICE_NAME]: 'NOT_SERVING' });
  readonly #backends: readonly KeyBackend[];
  #timer: NodeJS.Timeout | undefined;

  constructor(backends: readonly KeyBackend[]) {
    this.#backends = backends;
  }

  addToServer(server: Server): void {
    this.#health.addToServer(server);
  }

  /** Reports readiness now and then every few seconds. */
  start(): void {
    this.refresh();
    this.#timer = setInterval(() => this.refresh(), POLL_MS);
    this.#timer.unref();
  }

  refresh(): void {
    for (const backend of this.#backends) {
      const status: ServingStatus = backend.isReady() ? 'SERVING' : 'NOT_SERVING';
      this.#health.setStatus(`keyward.backend.${backend.name}`, status);
    }
    this.#health.setStatus('', 'SERVING');
    this.#health.setStatus(KEY_SERVICE_NAME, 'SERVING');
  }

  /** Everything NOT_SERVING (shutdown); stops polling. */
  stop(): void {
    clearInterval(this.#timer);
    this.#health.setStatus('', 'NOT_SERVING');
    this.#health.setStatus(KEY_SERVICE_NAME, 'NOT_SERVING');
  }
}
