/**
 * Buffered output for trace lines: lines are formatted straight into a
 * TextBuffer (or appended as strings) and written in `threshold`-sized
 * chunks; the producer waits when the stream pushes back, so printing a huge
 * capture into a slow pipe keeps memory bounded. A reader that goes away
 * (EPIPE: `weft trace read f | head`) closes the writer instead of crashing.
 */
import type { Writable } from 'node:stream';
import { TextBuffer } from './text.js';

export class LineWriter {
  readonly text: TextBuffer;
  readonly #size: number;
  #blocked: Promise<void> | undefined;
  #unblock: (() => void) | undefined;
  #closed = false;

  /**
   * `reuse`: the stream has written a chunk through when its writableLength
   * is back to 0 after write() (true of process.stdout: files, TTYs, pipes).
   */
  constructor(private readonly stream: Writable, private readonly threshold = 64 * 1024, private readonly reuse = false) {
    this.#size = Math.max(threshold, 16 * 1024) + 64 * 1024;
    this.text = new TextBuffer(this.#size, () => this.#flushNow());
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      this.#closed = true;
      this.#unblock?.();
    });
  }

  /** True once the reader has gone away: stop producing. */
  get closed(): boolean {
    return this.#closed;
  }

  line(s: string): void {
    this.text.text(s);
    this.text.byte(10);
    if (this.text.pos >= this.threshold) this.#flushNow();
  }

  /** Call after formatting a whole line (ending in '\n') into `text`. */
  endLine(): void {
    if (this.text.pos >= this.threshold) this.#flushNow();
  }

  #flushNow(): void {
    const t = this.text;
    if (t.pos === 0) return;
    if (this.#closed) {
      t.pos = 0;
      return;
    }
    const chunk = t.buf.subarray(0, t.pos);
    t.pos = 0;
    const ok = this.stream.write(chunk);
    // A stream that did not write the chunk through keeps it: start a new
    // buffer. Only streams known to copy or write synchronously get the same
    // one back (fs/tty/pipe stdout); any other Writable may hold on to it.
    if (!this.reuse || this.stream.writableLength > 0) t.replace(Buffer.alloc(this.#size));
    if (!ok && !this.#blocked) {
      this.#blocked = new Promise((resolve) => {
        const done = (): void => {
          this.stream.removeListener('drain', done);
          this.#blocked = undefined;
          this.#unblock = undefined;
          resolve();
        };
        this.#unblock = done;
        this.stream.once('drain', done);
      });
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
