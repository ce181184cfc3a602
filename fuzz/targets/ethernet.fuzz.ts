import * as ethernet from '../../src/wire/ethernet.js';
import { frames } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: frames,
  run(data) {
    roundTrip(ethernet.decode(data), (r) => ethernet.encode(r), (b) => ethernet.decode(b));
  },
} satisfies FuzzTarget;
