// Key material in memory. A SecretBytes owns a Buffer outside Node's shared pool
// (allocUnsafeSlow), so zeroizing it wipes exactly the secret and nothing else, and it
// prints as [redacted] wherever it ends up: a log line, JSON, util.inspect.
import { randomFillSync } from 'node:crypto';
import { inspect } from 'node:util';

const REDACTED = '[redacted]';

export class SecretBytes {
  #bytes: Buffer;
  #disposed = false;

  private constructor(bytes: Buffer) {
    this.#bytes = bytes;
  }

  /** `length` bytes from the OS CSPRNG. */
  static random(length: number): SecretBytes {
    const buf = Buffer.allocUnsafeSlow(length);
    randomFillSync(buf);
    return new SecretBytes(buf);
  }

  /** A copy of `source` in memory this object owns; the caller still owns `source`. */
  static copyOf(source: Uint8Array): SecretBytes {
    const buf = Buffer.allocUnsafeSlow(source.byteLength);
    buf.set(source);
    return new SecretBytes(buf);
  }

  /**
   * Takes ownership of `buf`, which must not be a view into a shared pool; it will be
   * zeroized on dispose. Use for buffers that node:crypto returned freshly.
   */
  static adopt(buf: Buffer): SecretBytes {
    return new SecretBytes(buf);
  }

  get length(): number {
    return this.#bytes.byteLength;
  }

  get disposed(): boolean {
    return this.#disposed;
  }

  /** The bytes, for a crypto call. Do not keep the reference beyond that call. */
  expose(): Buffer {
    if (this.#disposed) throw new Error('SecretBytes used after dispose');
    return this.#bytes;
  }

  /** A new SecretBytes with the same content. */
  clone(): SecretBytes {
    return SecretBytes.copyOf(this.expose());
  }

  /** Zeroizes the bytes. Idempotent. */
  dispose(): void {
    this.#bytes.fill(0);
    this.#disposed = true;
  }

  toString(): string {
    return REDACTED;
  }

  toJSON(): string {
    return REDACTED;
  }

  [inspect.custom](): string {
    return REDACTED;
  }
}
