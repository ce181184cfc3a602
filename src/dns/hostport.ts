/** "ADDR", "ADDR:PORT", "[V6]:PORT" parsing for listen and upstream flags (pure). */
import { InvalidArgumentError } from '../errors.js';
import { isIPv4, canonicalIPv6 } from '../wire/ip.js';

export interface HostPort {
  address: string;
  port: number;
}

export function parseHostPort(text: string, defaultPort = 53): HostPort {
  let host = text;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    port = v6[2];
  } else if (/^[^:]+:\d+$/.test(text)) {
    [host, port] = text.split(':') as [string, string];
  }
  let address: string;
  if (isIPv4(host)) address = host;
  else {
    try {
      address = canonicalIPv6(host);
    } catch {
      throw new InvalidArgumentError(`not an IP address: ${JSON.stringify(text)}`);
    }
  }
  const p = port === undefined ? defaultPort : Number(port);
  if (!Number.isInteger(p) || p < 0 || p > 65535) throw new InvalidArgumentError(`invalid port in ${JSON.stringify(text)}`);
  return { address, port: p };
}

export function formatHostPort(hp: HostPort): string {
  return hp.address.includes(':') ? `[${hp.address}]:${hp.port}` : `${hp.address}:${hp.port}`;
}
