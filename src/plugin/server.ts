/**
 * The plugin socket: Docker's HTTP protocol on a unix socket, one structured
 * log line per request with its duration.
 */
import type { Server } from 'node:http';
import type { Controller } from '../cnm/controller.js';
import { closeUnixHttp, listenUnixHttp } from '../io/unix-http.js';
import { MAX_BODY_BYTES, handle, tooLarge } from './api.js';

export type Logger = (record: Record<string, unknown>) => void;

export class PluginServer {
  private constructor(readonly path: string, private readonly server: Server) {}

  static async listen(path: string, controller: Controller, log: Logger): Promise<PluginServer> {
    const server = await listenUnixHttp(path, async (req) => {
      const t0 = process.hrtime.bigint();
      const { response, code } = await handle(req, controller);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      log({ msg: 'plugin request', method: req.path, status: response.status, ms: Math.round(ms * 100) / 100, ...(code ? { code } : {}) });
      return response;
    }, { maxBodyBytes: MAX_BODY_BYTES, tooLarge });
    return new PluginServer(path, server);
  }

  close(): Promise<void> {
    return closeUnixHttp(this.server, this.path);
  }
}
