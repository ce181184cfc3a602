import * as vlan from '../../src/wire/vlan.js';
import { qinqFrame } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [qinqFrame.subarray(14)],
  run(data) {
    vlan.decodeStack(data, 0x88a8, 0);
    roundTrip(vlan.decode(data), (r) => vlan.encode(r), (b) => vlan.decode(b));
  },
} satisfies FuzzTarget;
