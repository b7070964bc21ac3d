// grpc.health.v1 on the data plane, fed by the backends' readiness: "" and
// "keyward.v1.KeyService" are SERVING while every backend is ready, and each backend
// has its own entry "keyward.backend.<name>".
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
    let all = true;
    for (const backend of this.#backends) {
      const ready = backend.isReady();
      all &&= ready;
      this.#health.setStatus(`keyward.backend.${backend.name}`, ready ? 'SERVING' : 'NOT_SERVING');
    }
    const overall: ServingStatus = all ? 'SERVING' : 'NOT_SERVING';
    this.#health.setStatus('', overall);
    this.#health.setStatus(KEY_SERVICE_NAME, overall);
  }

  /** Everything NOT_SERVING (shutdown); stops polling. */
  stop(): void {
    clearInterval(this.#timer);
    this.#health.setStatus('', 'NOT_SERVING');
    this.#health.setStatus(KEY_SERVICE_NAME, 'NOT_SERVING');
  }
}
