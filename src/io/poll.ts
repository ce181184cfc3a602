/**
 * Readiness notifications for a raw fd on Node's own event loop (uv_poll in
 * the addon): no busy loops, no threads, the loop never blocks.
 */
import { native, type PollHandle } from './native.js';

export const READABLE = 1;
export const WRITABLE = 2;

export class FdWatcher {
  #handle: PollHandle | undefined;
  #events = 0;

  constructor(
    readonly fd: number,
    private readonly onReady: (events: number, status: number) => void,
  ) {}

  /** Watch for the given events (READABLE | WRITABLE); 0 stops watching. */
  watch(events: number): void {
    if (events === this.#events) return;
    this.#events = events;
    if (events === 0) {
      this.close();
      return;
    }
    if (this.#handle) native().pollUpdate(this.#handle, events);
    else this.#handle = native().poll(this.fd, events, (status, ready) => this.onReady(ready, status));
  }

  close(): void {
    if (this.#handle) native().pollClose(this.#handle);
    this.#handle = undefined;
    this.#events = 0;
  }
}
