import * as esp from '../../src/wire/esp.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: [esp.encode({ spi: 0x8a3b19c2, sequence: 42, payload: new Uint8Array(40).fill(0x5a) })],
  run(data) {
    // The non-throwing check must agree with the throwing decoder.
    const reason = esp.check(data, 0, data.length);
    const r = esp.decode(data);
    if (reason !== null) throw new Error(`check said ${reason} but decode accepted`);
    esp.describe(r);
    roundTrip(r, (x) => esp.encode(x), (b) => esp.decode(b));
  },
} satisfies FuzzTarget;
