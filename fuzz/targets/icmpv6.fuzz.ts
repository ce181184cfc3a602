import * as icmpv6 from '../../src/wire/icmpv6.js';
import { ndpNs, ndpRa } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

const pseudo = { source: 'fe80::1', destination: 'ff02::1' };

export default {
  seeds: [ndpNs, ndpRa],
  run(data) {
    const r = icmpv6.decode(data);
    roundTrip(r, (x) => icmpv6.encode(x, pseudo), (b) => icmpv6.decode(b));
    const ndp = icmpv6.decodeNdp(r.type, r.body);
    // Generic options keep their padding, so only fully modelled messages must re-encode identically.
    if (ndp && ndp.options.every((o) => !('data' in o))) {
      roundTrip(ndp, (m) => icmpv6.encodeNdp(m).body, (b) => icmpv6.decodeNdp(r.type, b)!);
    }
  },
} satisfies FuzzTarget;
