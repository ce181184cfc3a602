/**
 * Streaming file input and output with one reused buffer: constant memory
 * for any file size, and FIFOs work (reads return what is there).
 */
import { open } from 'node:fs/promises';
import { closeSync, openSync, writeSync } from 'node:fs';

/**
 * Calls `each` with successive chunks of the file; a promise from `each`
 * (output backpressure) is awaited before reading on. Two buffers take
 * turns, so the next read is in flight while `each` works on a chunk: a
 * chunk is only valid until `each` returns (or its promise settles).
 */
export async function streamFile(path: string, each: (chunk: Uint8Array) => void | Promise<void>,
  opts: { chunkSize?: number; signal?: AbortSignal } = {}): Promise<number> {
  const handle = await open(path, 'r');
  const size = opts.chunkSize ?? 256 * 1024;
  // Plain Uint8Arrays, not Buffers: decoders then see one array type (monomorphic loads).
  const bufs = [new Uint8Array(size), new Uint8Array(size)];
  let turn = 0;
  let total = 0;
  let next: Promise<{ bytesRead: number }> | undefined = handle.read(bufs[0]!, 0, size, null);
  try {
    for (;;) {
      const { bytesRead } = await next!;
      next = undefined;
      if (bytesRead === 0 || opts.signal?.aborted) break;
      const chunk = bufs[turn]!;
      turn ^= 1;
      // Sequential reads at the file position: the previous one has completed.
      next = handle.read(bufs[turn]!, 0, size, null);
      total += bytesRead;
      const wait = each(chunk.subarray(0, bytesRead));
      if (wait) await wait;
    }
  } finally {
    // Never close the handle under a read in flight.
    if (next) await next.catch(() => undefined);
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
