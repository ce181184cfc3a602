/** Typed netlink failures. `code` is the errno name for kernel errors. */
import { WeftError } from '../errors.js';

/**
 * The kernel rejected a request. Carries the errno name (`EEXIST`), its
 * number, the kernel's extended-ACK text and attribute offset when it sent
 * them, and the request's message type.
 */
export class NetlinkError extends WeftError {
  readonly errno: number;
  readonly extackMessage: string | undefined;
  readonly extackOffset: number | undefined;
  readonly requestType: number;

  constructor(code: string, errno: number, requestType: number, what: string, extack?: { message?: string; offset?: number }) {
    const detail = extack?.message ? `: ${extack.message}` : '';
    super(code, `${what} failed: ${code}${detail}`);
    this.errno = errno;
    this.requestType = requestType;
    this.extackMessage = extack?.message;
    this.extackOffset = extack?.offset;
  }
}

/** Bytes from the kernel (or anyone) that are not well-formed netlink. */
export class NetlinkDecodeError extends WeftError {
  readonly offset: number;
  constructor(reason: string, offset: number) {
    super('ENLDECODE', `malformed netlink data at offset ${offset}: ${reason}`);
    this.offset = offset;
  }
}

/** A dump was changed while it ran (NLM_F_DUMP_INTR); retrying is safe. */
export class DumpInterruptedError extends WeftError {
  constructor(what: string) {
    super('EDUMPINTR', `${what}: dump interrupted by a concurrent change, retry`);
  }
}

/** No complete answer arrived in time (a dump that never ends, a lost ACK). */
export class NetlinkTimeoutError extends WeftError {
  constructor(what: string, ms: number) {
    super('ETIMEDOUT', `${what}: no complete netlink reply within ${ms} ms`);
  }
}
