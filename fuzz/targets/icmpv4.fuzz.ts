import * as icmpv4 from '../../src/wire/icmpv4.js';
import { icmpEcho } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [icmpEcho],
  run(data) {
    roundTrip(icmpv4.decode(data), (x) => icmpv4.encode(x), (b) => icmpv4.decode(b));
  },
} satisfies FuzzTarget;
