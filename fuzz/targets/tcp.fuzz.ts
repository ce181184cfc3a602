import * as tcp from '../../src/wire/tcp.js';
import { tcpSyn } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [tcpSyn],
  run(data) {
    const r = tcp.decode(data);
    tcp.options(r.options);
    roundTrip(r, (x) => tcp.encode(x), (b) => tcp.decode(b));
  },
} satisfies FuzzTarget;
