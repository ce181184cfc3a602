/**
 * `npm run bench -- vxlan`: the VXLAN data path.
 *
 * Sections (each adds rows; `section` names it):
 *  - codec: VXLAN encap (write the 8-byte header in front of an inner frame
 *    already in a slot, with a source-port hash) + decap (strict check,
 *    VNI read, inner offset) of N frames, against Buffer.copy of the same
 *    bytes (the floor any userspace VTEP pays per frame). Ratio
 *    `codec_vs_memcpy` = memcpy time / codec time (above 1: the codec costs
 *    less than one copy).
 *  - vtep: reserved for the userspace VTEP work (pps and Gbit/s against
 *    the kernel vxlan device); until then its ratios are null. Add a
 *    section function to SECTIONS and fill the ratio keys.
 *
 * Args: `--frames N` (default 1,000,000), `--size BYTES` inner frame size
 * (default 1400).
 */
import { median, ratio, type Benchmark, type BenchResult, type Row } from './lib.js';
import * as vxlan from '../src/wire/vxlan.js';
import { VxlanView } from '../src/wire/vxlan.js';

interface Ctx {
  frames: number;
  size: number;
  rows: Row[];
  ratios: Record<string, number | null>;
  notes: string[];
}

const SLOTS = 256;
const REPEATS = 5;

function codec(ctx: Ctx): void {
  const slot = vxlan.HEADER_LENGTH + ctx.size;
  const ring = new Uint8Array(SLOTS * slot);
  for (let i = 0; i < ring.length; i++) ring[i] = (i * 131) & 0xff;
  for (let s = 0; s < SLOTS; s++) {
    const o = s * slot + vxlan.HEADER_LENGTH;
    ring[o + 12] = 0x08; // inner EtherType IPv4, so the hash reads addresses
    ring[o + 13] = 0x00;
    ring[o + 14] = 0x45;
  }
  const view = new VxlanView(vxlan.encode({ vni: 1, payload: new Uint8Array(64) }));
  let sink = 0;
  const runCodec = () => {
    for (let i = 0; i < ctx.frames; i++) {
      const o = (i & (SLOTS - 1)) * slot;
      // encap: header in front of the inner frame, outer source port from the inner flow
      vxlan.encodeHeader(i & 0xffffff, ring, o);
      sink += vxlan.sourcePort(ring, o + vxlan.HEADER_LENGTH, ctx.size);
      // decap: strict check without throwing, then VNI and inner offset
      if (view.reset(ring, o, slot) === null) sink += view.vni + view.payloadOffset;
    }
  };
  const src = Buffer.from(ring.buffer, ring.byteOffset, ring.byteLength);
  const dst = Buffer.alloc(slot * SLOTS);
  const runCopy = () => {
    for (let i = 0; i < ctx.frames; i++) {
      const o = (i & (SLOTS - 1)) * slot;
      sink += src.copy(dst, o, o, o + slot);
    }
  };
  const time = (fn: () => void) => {
    const t0 = process.hrtime.bigint();
    fn();
    return Number(process.hrtime.bigint() - t0) / 1e6;
  };
  runCodec(); // warm-up (JIT)
  runCopy();
  const codecMs: number[] = [];
  const copyMs: number[] = [];
  for (let r = 0; r < REPEATS; r++) {
    codecMs.push(time(runCodec));
    copyMs.push(time(runCopy));
  }
  const c = median(codecMs);
  const m = median(copyMs);
  ctx.rows.push(
    { section: 'codec', case: 'weft encap+decap', frames: ctx.frames, inner_bytes: ctx.size, ms: Math.round(c * 10) / 10, mpps: Math.round((ctx.frames / c / 1e3) * 100) / 100, ns_per_frame: Math.round((c * 1e6) / ctx.frames) },
    { section: 'codec', case: 'Buffer.copy (memcpy)', frames: ctx.frames, inner_bytes: ctx.size, ms: Math.round(m * 10) / 10, mpps: Math.round((ctx.frames / m / 1e3) * 100) / 100, ns_per_frame: Math.round((m * 1e6) / ctx.frames) },
  );
  ctx.ratios.codec_vs_memcpy = ratio(m, c);
  ctx.notes.push(`codec: median of ${REPEATS} runs after a warm-up; one JS thread; ${SLOTS} slots of ${slot} bytes reused (stays in cache) (sink ${sink & 1})`);
}

function vtep(ctx: Ctx): void {
  ctx.ratios.vtep_pps_vs_kernel = null;
  ctx.ratios.vtep_gbps_vs_kernel = null;
  ctx.notes.push('vtep: rows come from the userspace VTEP work (not built yet); ratios are null until then');
}

const SECTIONS: ((ctx: Ctx) => void | Promise<void>)[] = [codec, vtep];

function flag(args: string[], name: string, def: number, min: number, max: number): number {
  const i = args.indexOf(name);
  if (i < 0) return def;
  const v = Number(args[i + 1]);
  if (!Number.isInteger(v) || v < min || v > max) throw new Error(`${name} must be an integer ${min}..${max}`);
  return v;
}

const bench: Benchmark = {
  description: 'VXLAN codec (encap+decap vs memcpy) and, later, the userspace VTEP vs the kernel',
  async run(args: string[]): Promise<BenchResult> {
    const ctx: Ctx = {
      frames: flag(args, '--frames', 1_000_000, 1, 100_000_000),
      size: flag(args, '--size', 1400, 15, 9000),
      rows: [],
      ratios: {},
      notes: [],
    };
    for (const s of SECTIONS) await s(ctx);
    return { rows: ctx.rows, ratios: ctx.ratios, notes: ctx.notes };
  },
};

export default bench;
