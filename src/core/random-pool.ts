// Public random values (envelope salts and nonces, trace and span ids) drawn from the OS CSPRNG in bulk:
// one randomFillSync per 16 KiB instead of one per message. Every byte is handed out
// once. Not for key material: keys come from SecretBytes.random or the backend's RNG.
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 16 * 1024;

export class RandomPool {
  readonly #pool = Buffer.allocUnsafeSlow(POOL_BYTES);
  #offset = POOL_BYTES;

  /** Copies `length` fresh random bytes into `out` at `offset`. */
  fill(out: Uint8Array, offset: number, length: number): void {
    if (length > POOL_BYTES) {
      randomFillSync(out, offset, length);
      return;
    }
    if (this.#offset + length > POOL_BYTES) {
      randomFillSync(this.#pool);
      this.#offset = 0;
    }
    out.set(this.#pool.subarray(this.#offset, this.#offset + length), offset);
    // Handed-out bytes are overwritten so they cannot be handed out twice.
    this.#pool.fill(0, this.#offset, this.#offset + length);
    this.#offset += length;
  }
}
