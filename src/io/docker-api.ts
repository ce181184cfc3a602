/** dockerd's API on its unix socket: JSON GETs and followed streams (GET /events). */
import { request, type IncomingMessage } from 'node:http';
import { DockerApiError, TimeoutError } from '../errors.js';

export function dockerGetJson<T>(socketPath: string, path: string, timeoutMs = 10_000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if (res.statusCode !== 200) return reject(new DockerApiError(`docker API ${path}: HTTP ${res.statusCode}: ${text.slice(0, 200)}`, res.statusCode));
        try {
          resolve(JSON.parse(text) as T);
        } catch {
          reject(new DockerApiError(`docker API ${path}: answer is not JSON`));
        }
      });
      res.on('error', (err) => reject(new DockerApiError(`docker API ${path}: ${err.message}`)));
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => reject(new DockerApiError(`docker API ${path}: ${err.message}`)));
    req.end();
  });
}

/** GET on dockerd's API: the status and body, whatever the status. */
export function dockerGet(socketPath: string, path: string, timeoutMs: number): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath, path, method: 'GET', headers: { Host: 'docker' }, timeout: timeoutMs }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new TimeoutError(`GET ${path} timed out`)));
    req.on('error', reject);
    req.end();
  });
}

export interface DockerStreamHandlers {
  /** The API answered 200: lines follow. */
  onOpen(): void;
  /** One non-empty line of the stream (GET /events: one JSON event). */
  onLine(line: string): void;
  /** The stream is over (refused, HTTP error, closed, failed); called at most once. */
  onEnd(why: string): void;
}

/** A stream being followed; close() ends it (onEnd follows). */
export interface DockerStream {
  close(): void;
}

/** Follows a streaming GET (e.g. /events) on dockerd's API, line by line. */
export function followDockerStream(socketPath: string, path: string, h: DockerStreamHandlers): DockerStream {
  let ended = false;
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    h.onEnd(why);
  };
  let res: IncomingMessage | undefined;
  const req = request({ socketPath, path, method: 'GET', headers: { Host: 'docker' } });
  req.on('response', (r) => {
    if (r.statusCode !== 200) {
      r.resume();
      end(`GET ${path.split('?')[0]}: HTTP ${r.statusCode}`);
      return;
    }
    res = r;
    let buf = '';
    r.setEncoding('utf8');
    r.on('data', (chunk: string) => {
      buf += chunk;
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line) h.onLine(line);
      }
      if (buf.length > 1 << 20) buf = ''; // no newline in 1 MiB: not Docker's stream
    });
    r.on('close', () => end('event stream closed'));
    r.on('error', () => end('event stream failed'));
    h.onOpen();
  });
  req.on('error', (err) => end(err.message));
  req.end();
  return {
    close: () => {
      if (res) res.destroy();
      else req.destroy();
    },
  };
}
