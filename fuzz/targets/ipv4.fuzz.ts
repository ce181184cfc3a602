import * as ipv4 from '../../src/wire/ipv4.js';
import { ipv4Packets } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: ipv4Packets,
  run(data) {
    const r = ipv4.decode(data);
    roundTrip(r, (x) => ipv4.encode(x), (b) => ipv4.decode(b, 0, b.length, { verifyChecksum: true }));
  },
} satisfies FuzzTarget;
