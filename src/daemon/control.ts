/**
 * The daemon's control endpoint: /metrics (Prometheus text), /healthz
 * (200 once the reconcile finished and the store answers, else 503 with the
 * reason) and /status (JSON for `weft status`). Always served on
 * <state-dir>/control.sock; `--metrics ADDR` serves the same on TCP
 * (127.0.0.1 unless a host is given) or on another unix socket.
 */
import { join } from 'node:path';
import type { Server } from 'node:http';
import { InvalidArgumentError } from '../errors.js';
import { type HttpResponse, closeUnixHttp, listenTcpHttp, listenUnixHttp } from '../io/unix-http.js';
import { metrics } from '../metrics.js';
import { version } from '../version.js';

export type ListenAddress = { path: string } | { host: string; port: number };

/** `PORT`, `HOST:PORT`, `[V6]:PORT` or a unix socket path (anything with a slash). */
export function parseListenAddress(text: string): ListenAddress {
  if (text.includes('/')) return { path: text };
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:]*)):(\d+)$/.exec(text) ?? /^()()(\d+)$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (!m || !(port >= 0 && port <= 65535)) throw new InvalidArgumentError(`--metrics needs [HOST:]PORT or a socket path, got ${JSON.stringify(text)}`);
  return { host: m[1] || m[2] || '127.0.0.1', port };
}

export function controlSocketPath(stateDir: string): string {
  return join(stateDir, 'control.sock');
}

export interface ControlSource {
  /** Refreshes scrape-time values (counts read from the store). */
  beforeScrape(): Promise<void>;
  health(): Promise<{ ok: boolean; reason?: string }>;
  status(): Promise<unknown>;
}

const TOO_LARGE: HttpResponse = { status: 413, contentType: 'text/plain', body: 'request too large\n' };

metrics.collect('weft_build_info', 'weft version and the Node.js running it (always 1).', 'gauge', () => [[{ version: version(), node: process.version }, 1]]);
metrics.collect('process_start_time_seconds', 'Start time of the process since the Unix epoch, in seconds.', 'gauge', () => [[{}, Math.round((Date.now() - process.uptime() * 1000) / 1000)]]);
metrics.collect('process_resident_memory_bytes', 'Resident memory size in bytes.', 'gauge', () => [[{}, process.memoryUsage.rss()]]);
metrics.collect('process_cpu_seconds_total', 'Total user and system CPU time spent, in seconds.', 'counter', () => {
  const u = process.cpuUsage();
  return [[{}, (u.user + u.system) / 1e6]];
});

export class ControlServer {
  private constructor(private readonly servers: { server: Server; path?: string }[]) {}

  static async listen(addresses: ListenAddress[], source: ControlSource): Promise<ControlServer> {
    const handler = async (req: { method: string; path: string }): Promise<HttpResponse> => {
      if (req.method !== 'GET') return { status: 405, contentType: 'text/plain', body: 'GET only\n' };
      switch (req.path) {
        case '/metrics':
          await source.beforeScrape();
          return { status: 200, contentType: 'text/plain; version=0.0.4; charset=utf-8', body: metrics.render() };
        case '/healthz': {
          const h = await source.health();
          return { status: h.ok ? 200 : 503, contentType: 'text/plain', body: h.ok ? 'ok\n' : `not ready: ${h.reason}\n` };
        }
        case '/status':
          return { status: 200, contentType: 'application/json', body: JSON.stringify(await source.status()) };
        default:
          return { status: 404, contentType: 'text/plain', body: 'not found (try /metrics, /healthz, /status)\n' };
      }
    };
    const servers: { server: Server; path?: string }[] = [];
    try {
      for (const a of addresses) {
        if ('path' in a) servers.push({ server: await listenUnixHttp(a.path, handler, { maxBodyBytes: 4096, tooLarge: TOO_LARGE }), path: a.path });
        else servers.push({ server: await listenTcpHttp(a.host, a.port, handler, { maxBodyBytes: 4096, tooLarge: TOO_LARGE }) });
      }
    } catch (err) {
      await new ControlServer(servers).close();
      throw err;
    }
    return new ControlServer(servers);
  }

  /** The TCP port actually bound (port 0 picks one), for logs and tests. */
  tcpPort(): number | undefined {
    for (const { server, path } of this.servers) {
      const a = server.address();
      if (!path && a && typeof a === 'object') return a.port;
    }
    return undefined;
  }

  async close(): Promise<void> {
    for (const { server, path } of this.servers) {
      if (path) await closeUnixHttp(server, path);
      else await new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections?.();
      });
    }
  }
}
