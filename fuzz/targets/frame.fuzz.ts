import { decodeFrame } from '../../src/wire/frame.js';
import { frames } from '../seeds.js';
import type { FuzzTarget } from '../engine.js';

/** Walks every parser; decodeFrame must never throw, and its result must print as JSON. */
export default {
  seeds: frames,
  run(data) {
    JSON.stringify(decodeFrame(data));
    JSON.stringify(decodeFrame(data, { link: 'ip' }));
  },
} satisfies FuzzTarget;
