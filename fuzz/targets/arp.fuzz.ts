import * as arp from '../../src/wire/arp.js';
import { arpRequest } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [arpRequest],
  run(data) {
    const v = new arp.ArpView(data);
    const r = arp.decode(data);
    // encode models only the Ethernet/IPv4 shape
    if (v.hardwareLength === 6 && v.protocolLength === 4) roundTrip(r, (x) => arp.encode(x), (b) => arp.decode(b));
  },
} satisfies FuzzTarget;
