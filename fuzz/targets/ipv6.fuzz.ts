import * as ipv6 from '../../src/wire/ipv6.js';
import { ipv6Packets } from '../seeds.js';
import { roundTrip } from '../roundtrip.js';
import type { FuzzTarget } from '../engine.js';

export default {
  seeds: ipv6Packets,
  run(data) {
    const v = new ipv6.Ipv6View(data);
    ipv6.walkExtensions(data, v.nextHeader, v.payloadOffset, v.payloadOffset + v.payloadLength);
    roundTrip(ipv6.decode(data), (x) => ipv6.encode(x), (b) => ipv6.decode(b));
  },
} satisfies FuzzTarget;
