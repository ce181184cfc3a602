/**
 * TCP sockets opened inside a network namespace through the native addon
 * (setns on the calling thread only for socket(2)), then handed to Node's
 * own net.Server / net.Socket so framing, backpressure and timeouts use the
 * event loop.
 */
import net from 'node:net';
import { errnoOf, InvalidArgumentError, SysError, TimeoutError } from '../errors.js';
import { ipVersion } from '../wire/ip.js';
import { native, netnsPath } from './native.js';
import { FdWatcher, WRITABLE } from './poll.js';
import { AF_INET, AF_INET6, SOCK_STREAM, sockaddrInet } from './sockaddr.js';

const SOL_SOCKET = 1;
const SO_REUSEADDR = 2;
const SO_ERROR = 4;
const IPPROTO_TCP = 6;
const IPPROTO_IPV6 = 41;
const IPV6_V6ONLY = 26;

function open(address: string, netns?: string): number {
  const version = ipVersion(address);
  const family = version === 4 ? AF_INET : version === 6 ? AF_INET6 : 0;
  if (!family) throw new InvalidArgumentError(`invalid IP address ${JSON.stringify(address)}`);
  return native().openSocket(family, SOCK_STREAM, IPPROTO_TCP, netns === undefined ? null : netnsPath(netns));
}

/** A listening net.Server bound to address:port inside netns. */
export async function listenTcp(address: string, port: number, netns: string | undefined, server: net.Server, backlog = 128, device?: string): Promise<void> {
  const fd = open(address, netns);
  try {
    native().setsockoptInt(fd, SOL_SOCKET, SO_REUSEADDR, 1);
    // SO_BINDTODEVICE: only connections that came in on this interface.
    if (device) native().setsockoptBuf(fd, SOL_SOCKET, 25, Buffer.from(`${device}\0`));
    if (ipVersion(address) === 6) native().setsockoptInt(fd, IPPROTO_IPV6, IPV6_V6ONLY, 0);
    native().bind(fd, sockaddrInet(address, port));
  } catch (err) {
    native().close(fd);
    throw err;
  }
  await new Promise<void>((resolve, reject) => {
    const fail = (err: Error) => {
      try {
        native().close(fd);
      } catch {
        // already owned and closed by the server
      }
      reject(err);
    };
    server.once('error', fail);
    server.listen({ fd, backlog }, () => {
      server.off('error', fail);
      resolve();
    });
  });
}

/** One accepted or dialled TCP connection (Node's stream over the socket). */
export type TcpConnection = net.Socket;

/** A listening TCP server; close() stops accepting and resolves once every connection has ended. */
export interface TcpServer {
  close(): Promise<void>;
}

export interface ServeTcpOptions {
  /** Connections beyond this many are refused. */
  maxConnections: number;
  /** Only connections that came in on this interface (SO_BINDTODEVICE). */
  device?: string;
  /** Errors of the server after it listens (accept failures). */
  onError: (err: Error) => void;
}

/** Listens on address:port inside netns and hands each connection to onConnection. */
export async function serveTcp(address: string, port: number, netns: string | undefined, onConnection: (conn: TcpConnection) => void,
  opts: ServeTcpOptions): Promise<TcpServer> {
  const server = net.createServer({ pauseOnConnect: false }, onConnection);
  server.maxConnections = opts.maxConnections;
  server.on('error', opts.onError);
  await listenTcp(address, port, netns, server, undefined, opts.device);
  return { close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

/** A connected net.Socket to address:port, dialled from inside netns. */
export function connectTcp(address: string, port: number, netns: string | undefined, timeoutMs: number): Promise<TcpConnection> {
  let fd: number;
  try {
    fd = open(address, netns);
    try {
      native().connect(fd, sockaddrInet(address, port));
    } catch (err) {
      if (errnoOf(err) !== 'EINPROGRESS') {
        native().close(fd);
        throw err;
      }
    }
  } catch (err) {
    return Promise.reject(err);
  }
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      watcher.close();
      if (err) {
        native().close(fd);
        reject(err);
        return;
      }
      resolve(new net.Socket({ fd, readable: true, writable: true }));
    };
    const watcher = new FdWatcher(fd, () => {
      let errno = 0;
      try {
        errno = native().getsockoptBuf(fd, SOL_SOCKET, SO_ERROR, 4).readInt32LE(0);
      } catch (err) {
        finish(err as Error);
        return;
      }
      finish(errno ? new SysError(native().errnoName(errno), errno, 'connect', `connect to ${address}:${port} failed`) : undefined);
    });
    const timer = setTimeout(() => finish(new TimeoutError(`connect to ${address}:${port} timed out`)), timeoutMs);
    watcher.watch(WRITABLE);
  });
}
