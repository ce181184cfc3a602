/**
 * Sockets bound on this namespace's host ports, from /proc/net/{tcp,udp}[6]
 * (which show the namespace of the reading process): TCP in LISTEN, UDP
 * bound at all. Used to refuse publishing a port the host already serves.
 */
import { readFileSync } from 'node:fs';

export interface BoundPort {
  proto: 'tcp' | 'udp';
  /** Local address ('0.0.0.0' / '::' for a wildcard). */
  address: string;
  port: number;
}

const TCP_LISTEN = '0A';

/** Parses one /proc/net table (TCP: LISTEN rows only). */
export function parseProcNet(text: string, proto: 'tcp' | 'udp', v6: boolean): BoundPort[] {
  const out: BoundPort[] = [];
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 4) continue;
    const [addrHex, portHex] = (f[1] ?? '').split(':');
    if (!addrHex || !portHex) continue;
    if (proto === 'tcp' && f[3] !== TCP_LISTEN) continue;
    out.push({ proto, address: v6 ? v6Address(addrHex) : v4Address(addrHex), port: parseInt(portHex, 16) });
  }
  return out;
}

/** /proc/net prints the address as host-order 32-bit words (little-endian here). */
function v4Address(hex: string): string {
  const b = Buffer.from(hex, 'hex');
  return [b[3], b[2], b[1], b[0]].join('.');
}

function v6Address(hex: string): string {
  const words: string[] = [];
  for (let i = 0; i < 4; i++) {
    const w = Buffer.from(hex.slice(i * 8, i * 8 + 8), 'hex').reverse().toString('hex');
    words.push(w.slice(0, 4), w.slice(4));
  }
  const full = words.map((w) => w.replace(/^0+(?=.)/, '')).join(':');
  return full === '0:0:0:0:0:0:0:0' ? '::' : full;
}

/** Every bound port of the current network namespace; unreadable tables count as empty. */
export function boundPorts(): BoundPort[] {
  const out: BoundPort[] = [];
  for (const [file, proto, v6] of [['tcp', 'tcp', false], ['tcp6', 'tcp', true], ['udp', 'udp', false], ['udp6', 'udp', true]] as const) {
    try {
      out.push(...parseProcNet(readFileSync(`/proc/net/${file}`, 'utf8'), proto, v6));
    } catch {
      // no IPv6 in this kernel, or /proc not mounted: nothing to report
    }
  }
  return out;
}
