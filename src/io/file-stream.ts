/**
 * Streaming file input and output with one reused buffer: constant memory
 * for any file size, and FIFOs work (reads return what is there).
 */
import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Calls `each` with successive chunks of the file (the same buffer,
 * refilled: a chunk is valid until `each` returns or its promise settles);
 * a promise from `each` (output backpressure) is awaited before reading on.
 * Reads are synchronous: for a CLI streaming one file that is cheaper than a
 * thread-pool round trip per chunk, and it does not depend on a second core.
 */
export async function streamFile(path: string, each: (chunk: Uint8Array) => void | Promise<void>,
  opts: { chunkSize?: number; signal?: AbortSignal } = {}): Promise<number> {
  const fd = openSync(path, 'r');
  // A plain Uint8Array, not a Buffer: decoders then see one array type (monomorphic loads).
  const buf = new Uint8Array(opts.chunkSize ?? 256 * 1024);
  let total = 0;
  try {
    for (;;) {
      if (opts.signal?.aborted) break;
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      total += n;
      const wait = each(buf.subarray(0, n));
      if (wait) await wait;
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

/** A synchronous file sink for writers whose buffers are reused after the call. */
export class FileSink {
  readonly #fd: number;
  constructor(path: string) {
    this.#fd = openSync(path, 'w');
  }

  readonly write = (bytes: Uint8Array): void => {
    let off = 0;
    while (off < bytes.length) off += writeSync(this.#fd, bytes, off, bytes.length - off);
  };

  close(): void {
    closeSync(this.#fd);
  }
}
