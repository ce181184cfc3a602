/**
 * The plugin socket: Docker's HTTP protocol on a unix socket, one structured
 * log line per request with its duration.
 */
import type { Server } from 'node:http';
import type { Controller } from '../cnm/controller.js';
import { closeUnixHttp, listenUnixHttp } from '../io/unix-http.js';
import { MAX_BODY_BYTES, handle, tooLarge } from './api.js';

import type { Logger } from '../log.js';
import { metrics } from '../metrics.js';

const REQUESTS = metrics.counter('weft_plugin_requests_total', 'Docker plugin API requests by method and outcome (ok, bad_request, error, rejected).');
const DURATION = metrics.histogram('weft_plugin_request_duration_seconds', 'Time to answer a Docker plugin API request, by method.');

function outcome(status: number): string {
  return status === 200 ? 'ok' : status === 400 ? 'bad_request' : status >= 500 ? 'error' : 'rejected';
}

export class PluginServer {
  private constructor(readonly path: string, private readonly server: Server) {}

  /**
   * Serves `path`. With a promise for the controller, requests wait until it
   * resolves (the managed plugin listens before its slow start; docs/swarm.md)
   * and are refused with its error if it rejects.
   */
  static async listen(path: string, controller: Controller | Promise<Controller>, log: Logger): Promise<PluginServer> {
    const server = await listenUnixHttp(path, async (req) => {
      const t0 = process.hrtime.bigint();
      const { response, code } = await handle(req, await controller);
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      // Unknown paths share one label: a client cannot grow the series without bound.
      const method = response.status === 404 ? 'unknown' : req.path.slice(1);
      REQUESTS.with({ method, outcome: outcome(response.status) }).inc();
      DURATION.with({ method }).observe(ms / 1000);
      // The body size shows Docker's empty-body retries (docs/state.md); a refused body is logged for diagnosis.
      log({
        level: response.status === 200 ? 'info' : 'warn', msg: 'plugin request', method: req.path, status: response.status,
        ms: Math.round(ms * 100) / 100, bytes: req.body.length,
        ...(code ? { code } : {}), ...(response.status >= 400 && response.status < 500 ? { body: req.body.toString('utf8', 0, 200) } : {}),
      });
      return response;
    }, { maxBodyBytes: MAX_BODY_BYTES, tooLarge });
    return new PluginServer(path, server);
  }

  close(): Promise<void> {
    return closeUnixHttp(this.server, this.path);
  }
}
