import { parsePortmap } from '../../src/cnm/drivers/ports.js';
import { NetworkOptionError } from '../../src/errors.js';
import { parseProcNet } from '../../src/io/listening.js';
import type { FuzzTarget } from '../engine.js';

const text = (s: string) => new TextEncoder().encode(s);

/**
 * Docker's com.docker.network.portmap (untrusted JSON) and /proc/net tables:
 * a NetworkOptionError is the only way to refuse; anything else thrown is a bug.
 */
export default {
  seeds: [
    text('[{"Proto":6,"IP":"","Port":80,"HostIP":"","HostPort":8080,"HostPortEnd":8080}]'),
    text('[{"Proto":17,"Port":53,"HostIP":"198.18.0.1","HostPort":0,"HostPortEnd":0}]'),
    text('  sl  local_address rem_address   st\n   0: 0100007F:1F90 00000000:0000 0A 0\n'),
  ],
  run(data) {
    const s = new TextDecoder().decode(data);
    for (const proto of ['tcp', 'udp'] as const) for (const v6 of [false, true]) parseProcNet(s, proto, v6);
    let v: unknown;
    try {
      v = JSON.parse(s);
    } catch {
      return;
    }
    try {
      for (const p of parsePortmap(v)) {
        if (p.hostPortEnd < p.hostPort || p.port < 1 || p.port > 65535) throw new Error(`bad port request ${JSON.stringify(p)}`);
      }
    } catch (err) {
      if (!(err instanceof NetworkOptionError)) throw err;
    }
  },
} satisfies FuzzTarget;
