import * as vxlan from '../../src/wire/vxlan.js';
import { vxlanPayload } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [vxlanPayload],
  run(data) {
    // The non-throwing check must agree with the throwing decoder.
    const reason = vxlan.check(data, 0, data.length);
    const r = vxlan.decode(data);
    if (reason !== null) throw new Error(`check said ${reason} but decode accepted`);
    vxlan.sourcePort(r.payload);
    roundTrip(r, (x) => vxlan.encode(x), (b) => vxlan.decode(b));
  },
} satisfies FuzzTarget;
