// Trace and span ids for call spans, drawn from the OS random source 4 KiB at a time
// (W3C Trace Context wants them random; an all-zero id is invalid and never handed out).
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4_096;

export class TraceIds {
  readonly #pool = Buffer.allocUnsafeSlow(POOL_BYTES);
  #offset = POOL_BYTES;

  /** Writes a fresh non-zero id of `length` bytes (16: trace id, 8: span id) into `out` at `at`. */
  fill(out: Buffer, at: number, length: 8 | 16): void {
    for (;;) {
      if (this.#offset + length > POOL_BYTES) {
        randomFillSync(this.#pool);
        this.#offset = 0;
      }
      const start = this.#offset;
      this.#offset += length;
      this.#pool.copy(out, at, start, start + length);
      for (let i = at; i < at + length; i++) if (out[i] !== 0) return;
    }
  }
}
