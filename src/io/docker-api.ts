/** GET requests to dockerd's API on its unix socket, JSON answers only. */
import { request } from 'node:http';
import { DockerApiError } from '../errors.js';

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
