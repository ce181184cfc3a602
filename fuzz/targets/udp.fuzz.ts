import * as udp from '../../src/wire/udp.js';
import { udpDns } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [udpDns],
  run(data) {
    const v = new udp.UdpView(data);
    v.checksumValid(new Uint8Array(4), new Uint8Array(4));
    roundTrip(udp.decode(data), (x) => udp.encode(x), (b) => udp.decode(b));
  },
} satisfies FuzzTarget;
