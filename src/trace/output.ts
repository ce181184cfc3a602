/**
 * Buffered text output for trace lines: strings are joined into ~64 KiB
 * writes, and the producer waits when the stream pushes back, so printing
 * a huge capture into a slow pipe keeps memory bounded.
 */
import type { Writable } from 'node:stream';

export class LineWriter {
  #buf = '';
  #blocked: Promise<void> | undefined;

  constructor(private readonly stream: Writable, private readonly threshold = 64 * 1024) {}

  line(s: string): void {
    this.#buf += s;
    this.#buf += '\n';
    if (this.#buf.length >= this.threshold) this.#flushNow();
  }

  #flushNow(): void {
    if (!this.#buf) return;
    const ok = this.stream.write(this.#buf);
    this.#buf = '';
    if (!ok && !this.#blocked) {
      this.#blocked = new Promise((resolve) => this.stream.once('drain', () => {
        this.#blocked = undefined;
        resolve();
      }));
    }
  }

  /** Resolves when the stream can take more (undefined when it already can). */
  get backpressure(): Promise<void> | undefined {
    return this.#blocked;
  }

  async flush(): Promise<void> {
    this.#flushNow();
    if (this.#blocked) await this.#blocked;
  }
}
