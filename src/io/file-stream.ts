/**
 * Streaming file input and output with one reused buffer: constant memory
 * for any file size, and FIFOs work (reads return what is there).
 */
import { open } from 'node:fs/promises';
import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * Calls `each` with successive chunks of the file (the same buffer, refilled);
 * a promise from `each` (output backpressure) is awaited before reading on.
 */
export async function streamFile(path: string, each: (chunk: Uint8Array) => void | Promise<void>,
  opts: { chunkSize?: number; signal?: AbortSignal } = {}): Promise<number> {
  const handle = await open(path, 'r');
  const buf = Buffer.alloc(opts.chunkSize ?? 256 * 1024);
  let total = 0;
  try {
    for (;;) {
      if (opts.signal?.aborted) break;
      const { bytesRead } = await handle.read(buf, 0, buf.length, null);
      if (bytesRead === 0) break;
      total += bytesRead;
      const wait = each(buf.subarray(0, bytesRead));
      if (wait) await wait;
    }
  } finally {
    await handle.close();
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
