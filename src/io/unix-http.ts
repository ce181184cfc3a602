/**
 * An HTTP/1.1 server on a unix socket (Docker's plugin transport): bodies
 * are bounded, a stale socket file from a crashed run is replaced, and the
 * socket is created 0600 in a 0700 directory unless the directory exists
 * already (Docker's /run/docker/plugins is root-owned).
 */
import { chmodSync, existsSync, lstatSync, mkdirSync, unlinkSync } from 'node:fs';
import { type IncomingMessage, type Server, type ServerResponse, createServer, request } from 'node:http';
import { connect } from 'node:net';
import { basename, dirname } from 'node:path';
import { DaemonUnreachableError, NotASocketError, SocketInUseError, TimeoutError } from '../errors.js';

export interface HttpRequest {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface HttpResponse {
  status: number;
  body: string;
  contentType: string;
}

export type Handler = (req: HttpRequest) => Promise<HttpResponse>;

/** Whether something accepts connections on the unix socket at path. */
function isLive(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * A listening socket systemd passed for this path (socket activation: the
 * socket unit's FileDescriptorName is the path's basename), or undefined.
 */
function inheritedFd(path: string): number | undefined {
  if (process.env.LISTEN_PID !== String(process.pid)) return undefined;
  const names = (process.env.LISTEN_FDNAMES ?? '').split(':');
  const i = names.indexOf(basename(path));
  return i >= 0 && i < Number(process.env.LISTEN_FDS ?? 0) ? 3 + i : undefined;
}

const inherited = new WeakSet<Server>();

/** Throws SocketInUseError when a process serves the socket at path (checked before a daemon touches anything); a socket systemd passed us is ours. */
export async function assertSocketFree(path: string): Promise<void> {
  if (inheritedFd(path) !== undefined) return; // systemd holds it for us (socket activation)
  if (existsSync(path) && lstatSync(path).isSocket() && (await isLive(path))) throw new SocketInUseError(path);
}

export async function listenUnixHttp(path: string, handler: Handler, opts: { maxBodyBytes: number; tooLarge: HttpResponse }): Promise<Server> {
  const fd = inheritedFd(path);
  if (fd !== undefined) {
    const server = createServer((req, res) => serve(req, res, handler, opts));
    server.keepAliveTimeout = 60_000;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen({ fd }, () => {
        server.off('error', reject);
        resolve();
      });
    });
    inherited.add(server);
    return server;
  }
  const dir = dirname(path);
  if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
  if (existsSync(path)) {
    if (!lstatSync(path).isSocket()) throw new NotASocketError(path);
    if (await isLive(path)) throw new SocketInUseError(path);
    unlinkSync(path);
  }
  const server = createServer((req, res) => serve(req, res, handler, opts));
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(path, () => {
      server.off('error', reject);
      resolve();
    });
  });
  chmodSync(path, 0o600);
  return server;
}

/** The same server on TCP (the metrics endpoint): host and port; port 0 picks one. */
export async function listenTcpHttp(host: string, port: number, handler: Handler, opts: { maxBodyBytes: number; tooLarge: HttpResponse }): Promise<Server> {
  const server = createServer((req, res) => serve(req, res, handler, opts));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

/** GET path from a unix socket or TCP address; rejects after timeoutMs. */
export function httpGet(target: { socketPath: string } | { host: string; port: number }, path: string, timeoutMs: number): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ ...target, path, method: 'GET' }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString() }));
      res.on('error', reject);
    });
    req.setTimeout(timeoutMs, () => req.destroy(new TimeoutError(`no answer from ${'socketPath' in target ? target.socketPath : `${target.host}:${target.port}`} within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

function serve(req: IncomingMessage, res: ServerResponse, handler: Handler, opts: { maxBodyBytes: number; tooLarge: HttpResponse }): void {
  const chunks: Buffer[] = [];
  let size = 0;
  let rejected = false;
  const send = (r: HttpResponse) => {
    if (res.headersSent) return;
    res.writeHead(r.status, { 'Content-Type': r.contentType, 'Content-Length': Buffer.byteLength(r.body) });
    res.end(r.body);
  };
  req.on('data', (c: Buffer) => {
    if (rejected) return;
    size += c.length;
    if (size > opts.maxBodyBytes) {
      rejected = true;
      res.setHeader('Connection', 'close');
      send(opts.tooLarge);
      req.resume();
      return;
    }
    chunks.push(c);
  });
  req.on('end', () => {
    if (rejected) return;
    handler({ method: req.method ?? 'GET', path: (req.url ?? '/').split('?')[0]!, headers: req.headers, body: Buffer.concat(chunks) })
      .then(send, (err) => send({ status: 500, contentType: 'application/json', body: JSON.stringify({ Err: String(err) }) }));
  });
  req.on('error', () => res.destroy());
}

/** Closes the server and removes its socket file. */
export async function closeUnixHttp(server: Server, path: string): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
  // systemd owns an activated socket's file (it keeps listening while weft is down).
  if (inherited.has(server)) return;
  try {
    unlinkSync(path);
  } catch {
    // already gone
  }
}

/** One POST with a JSON body to an HTTP server on a unix socket (the CLI calling the plugin socket). */
export function postUnixJson(path: string, url: string, body: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: path, path: url, method: 'POST', headers: { 'Content-Type': 'application/json' } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        let parsed: Record<string, unknown> = {};
        try {
          parsed = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
        } catch {
          // not JSON: status alone tells
        }
        resolve({ status: res.statusCode ?? 0, body: parsed });
      });
    });
    req.on('error', (err) => reject(new DaemonUnreachableError(`cannot reach ${path}: ${err.message} (is the weft daemon running?)`)));
    req.end(JSON.stringify(body));
  });
}
