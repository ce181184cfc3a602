/**
 * The only importer of the native addon (native/weft.c documents every
 * function). Everything above io/ uses the typed wrappers here or in the
 * sibling modules; a syscall failure becomes a SysError with the errno name.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InvalidArgumentError, SysError, UnsupportedPlatformError } from '../errors.js';

export interface PollHandle {
  readonly __poll: unique symbol;
}

export interface NativeAddon {
  openSocket(domain: number, type: number, protocol: number, netnsPath?: string | null): number;
  openTun(name: string | null, flags: number, netnsPath?: string | null): { fd: number; name: string };
  ioctlInt(fd: number, request: number, value: number): number;
  ioctlIntRef(fd: number, request: number, value: number): number;
  setsockoptInt(fd: number, level: number, name: number, value: number): void;
  setsockoptBuf(fd: number, level: number, name: number, value: Uint8Array): void;
  getsockoptBuf(fd: number, level: number, name: number, length: number): Buffer;
  attachFilter(fd: number, program: Uint8Array): void;
  bind(fd: number, sockaddr: Uint8Array): void;
  connect(fd: number, sockaddr: Uint8Array): void;
  getsockname(fd: number): Buffer;
  sendTo(fd: number, buf: Uint8Array, offset: number, length: number, sockaddr?: Uint8Array | null): number;
  recvFrom(fd: number, buf: Uint8Array, offset: number, length: number, addrOut?: Uint8Array | null): number;
  recvBatch(fd: number, buf: Uint8Array, slotSize: number, count: number, lengths: Int32Array,
    addrs?: Uint8Array | null, segs?: Int32Array | null, stamps?: Uint32Array | null): number;
  sendBatch(fd: number, buf: Uint8Array, slotSize: number, count: number, lengths: Int32Array,
    addrs?: Uint8Array | null, addrLen?: number): number;
  readBatch(fd: number, buf: Uint8Array, slotSize: number, count: number, lengths: Int32Array): number;
  writeBatch(fd: number, buf: Uint8Array, slotSize: number, count: number, lengths: Int32Array): number;
  close(fd: number): void;
  poll(fd: number, events: number, callback: (status: number, events: number) => void): PollHandle;
  pollUpdate(handle: PollHandle, events: number): void;
  pollClose(handle: PollHandle): void;
  errnoName(errno: number): string;
  netnsAdd(path: string): Promise<void>;
  netnsDelete(path: string): Promise<void>;
  bpfSkipPcapng(buf: Uint8Array, start: number, end: number, littleEndian: boolean, snaplens: Int32Array,
    program: Uint8Array, out: Uint32Array): number;
  bpfSkipPcap(buf: Uint8Array, start: number, end: number, littleEndian: boolean, snaplen: number,
    program: Uint8Array, out: Uint32Array): number;
  bpfRun(buf: Uint8Array, offset: number, caplen: number, wirelen: number, program: Uint8Array): number;
}

function findAddon(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    const candidate = join(dir, 'build', 'Release', 'weft_native.node');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new UnsupportedPlatformError('weft native addon not built: run `npm run build`');
}

let addon: NativeAddon | undefined;

function load(): NativeAddon {
  if (addon) return addon;
  if (process.platform !== 'linux') {
    throw new UnsupportedPlatformError(`weft's kernel and socket features need Linux, not ${process.platform}`);
  }
  const raw = createRequire(import.meta.url)(findAddon()) as NativeAddon;
  addon = wrapErrors(raw);
  return addon;
}

function wrapErrors(raw: NativeAddon): NativeAddon {
  const out: Record<string, unknown> = {};
  // The addon's properties are not enumerable (napi_default).
  for (const name of Object.getOwnPropertyNames(raw)) {
    const fn = (raw as unknown as Record<string, (...a: unknown[]) => unknown>)[name]!;
    out[name] = (...args: unknown[]) => {
      try {
        return fn(...args);
      } catch (err) {
        throw toSysError(err, name === 'openSocket' ? args[3] : name === 'openTun' ? args[2] : undefined);
      }
    };
  }
  // The per-packet calls get fixed-arity wrappers: no rest array per call.
  const r = raw;
  Object.assign(out, {
    netnsAdd: (path: string) => r.netnsAdd(path).catch((err: unknown) => { throw toSysError(err); }),
    netnsDelete: (path: string) => r.netnsDelete(path).catch((err: unknown) => { throw toSysError(err); }),
    sendTo: (fd: number, b: Uint8Array, o: number, l: number, a?: Uint8Array | null) => {
      try { return r.sendTo(fd, b, o, l, a); } catch (err) { throw toSysError(err); }
    },
    recvFrom: (fd: number, b: Uint8Array, o: number, l: number, a?: Uint8Array | null) => {
      try { return r.recvFrom(fd, b, o, l, a); } catch (err) { throw toSysError(err); }
    },
    recvBatch: (fd: number, b: Uint8Array, s: number, c: number, l: Int32Array, a?: Uint8Array | null, g?: Int32Array | null, t?: Uint32Array | null) => {
      try { return r.recvBatch(fd, b, s, c, l, a, g, t); } catch (err) { throw toSysError(err); }
    },
    sendBatch: (fd: number, b: Uint8Array, s: number, c: number, l: Int32Array, a?: Uint8Array | null, al?: number) => {
      try { return r.sendBatch(fd, b, s, c, l, a, al); } catch (err) { throw toSysError(err); }
    },
    readBatch: (fd: number, b: Uint8Array, s: number, c: number, l: Int32Array) => {
      try { return r.readBatch(fd, b, s, c, l); } catch (err) { throw toSysError(err); }
    },
    writeBatch: (fd: number, b: Uint8Array, s: number, c: number, l: Int32Array) => {
      try { return r.writeBatch(fd, b, s, c, l); } catch (err) { throw toSysError(err); }
    },
    bpfSkipPcapng: (b: Uint8Array, s: number, e: number, le: boolean, n: Int32Array, p: Uint8Array, o: Uint32Array) => {
      try { return r.bpfSkipPcapng(b, s, e, le, n, p, o); } catch (err) { throw toSysError(err); }
    },
    bpfSkipPcap: (b: Uint8Array, s: number, e: number, le: boolean, n: number, p: Uint8Array, o: Uint32Array) => {
      try { return r.bpfSkipPcap(b, s, e, le, n, p, o); } catch (err) { throw toSysError(err); }
    },
    bpfRun: (b: Uint8Array, o: number, n: number, w: number, p: Uint8Array) => {
      try { return r.bpfRun(b, o, n, w, p); } catch (err) { throw toSysError(err); }
    },
  });
  return out as unknown as NativeAddon;
}

function toSysError(err: unknown, netns?: unknown): unknown {
  if (err instanceof Error && typeof (err as { errno?: unknown }).errno === 'number') {
    const e = err as Error & { code: string; errno: number; syscall: string };
    if (e.syscall === 'open(netns)' || e.syscall === 'setns') {
      return new SysError(e.code, e.errno, e.syscall, `network namespace ${String(netns)}: ${e.code === 'ENOENT' ? 'does not exist' : e.message}`);
    }
    return new SysError(e.code, e.errno, e.syscall, e.message);
  }
  if (err instanceof Error && (err as { code?: unknown }).code === 'EINVALARG') {
    return new InvalidArgumentError(err.message);
  }
  return err;
}

/** The addon, loaded on first use. */
export function native(): NativeAddon {
  return load();
}

/** The errno's symbolic name (EEXIST, ENODEV …). */
export function errnoName(errno: number): string {
  return load().errnoName(errno);
}

/** close(2) on an fd the addon opened. */
export function closeFd(fd: number): void {
  load().close(fd);
}

/** The path of a named network namespace as iproute2 keeps it. */
export function netnsPath(name: string): string {
  if (name.startsWith('/')) return name;
  if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === '.' || name === '..') {
    throw new InvalidArgumentError(`invalid network namespace name: ${JSON.stringify(name)}`);
  }
  return `/var/run/netns/${name}`;
}
