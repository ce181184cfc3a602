/** weft's version, from the package.json that ships beside dist/. */
import { readTextFile } from './io/files.js';

let cached: string | undefined;

export function version(): string {
  if (cached === undefined) {
    try {
      cached = (JSON.parse(readTextFile(new URL('../../package.json', import.meta.url))) as { version: string }).version;
    } catch {
      cached = 'unknown';
    }
  }
  return cached;
}
