/**
 * Netlink programming rate, weft vs `ip -batch`/`bridge -batch` vs pyroute2,
 * in a throw-away lab namespace (docs/performance.md):
 * - create + delete 200 veth pairs;
 * - append 10,000 FDB entries and 10,000 neighbours on one VXLAN device.
 * weft runs in this process with pipelined batches; `ip`/`bridge` timings
 * include their process start; pyroute2 times itself in-process (its
 * interpreter and import start-up excluded, as in docs/performance.md).
 * Ratios are time(peer) / time(weft): above 1 means weft is faster.
 */
import { writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFileSync } from 'node:child_process';
import { type Benchmark, type Row, ratio, timeMs } from './lib.js';
import { Lab } from '../test/support/lab.js';
import { Rtnl } from '../src/netlink/rtnetlink/handle.js';
import { addLinks, deleteLinkGroup, deleteLinks } from '../src/netlink/rtnetlink/link-ops.js';
import { fdbBatch } from '../src/netlink/rtnetlink/fdb.js';
import { replaceNeighbours } from '../src/netlink/rtnetlink/neigh.js';

const VETHS = 200;
const ENTRIES = 10_000;
const hex = (n: number) => n.toString(16).padStart(2, '0');
const mac = (i: number, p = '02:00:00:00') => `${p}:${hex(i >> 8)}:${hex(i & 255)}`;
const vtep = (i: number) => `198.18.${i >> 8}.${(i & 255) || 1}`;
const nip = (i: number) => `198.19.${i >> 8}.${i & 255}`;

function sh(argv: string[], input?: string): string {
  return execFileSync(argv[0]!, argv.slice(1), { input, maxBuffer: 64 << 20, timeout: 120_000 }).toString();
}

function countLinks(ns: string): number {
  return JSON.parse(sh(['ip', '-n', ns, '-j', 'link'])).length;
}

function fdbCount(ns: string): number {
  return JSON.parse(sh(['bridge', '-n', ns, '-j', 'fdb', 'show', 'dev', 'vx0'])).length;
}

function neighCount(ns: string): number {
  return JSON.parse(sh(['ip', '-n', ns, '-j', 'neigh', 'show', 'dev', 'vx0'])).length;
}

function makeVxlan(ns: string): void {
  sh(['ip', '-n', ns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'dstport', '4789', 'local', '198.18.0.1', 'nolearning', 'proxy']);
  sh(['ip', '-n', ns, 'link', 'set', 'vx0', 'up']);
}

const PY_VETH = `
import sys, time, json
from pyroute2 import IPRoute
n = int(sys.argv[1]); ipr = IPRoute()
t0 = time.perf_counter()
for i in range(n): ipr.link('add', ifname='bx%d' % i, kind='veth', peer='by%d' % i)
t1 = time.perf_counter()
for i in range(n): ipr.link('del', ifname='bx%d' % i)
t2 = time.perf_counter()
print(json.dumps({'add': (t1 - t0) * 1000, 'del': (t2 - t1) * 1000}))
`;

const PY_FDB = `
import sys, time, json
from pyroute2 import IPRoute
n = int(sys.argv[1]); ipr = IPRoute()
idx = ipr.link_lookup(ifname='vx0')[0]
h = lambda x: '%02x' % x
t0 = time.perf_counter()
for i in range(n): ipr.fdb('append', ifindex=idx, lladdr='02:00:00:00:%s:%s' % (h(i >> 8), h(i & 255)), dst='198.18.%d.%d' % (i >> 8, (i & 255) or 1))
t1 = time.perf_counter()
for i in range(n): ipr.neigh('replace', ifindex=idx, dst='198.19.%d.%d' % (i >> 8, i & 255), lladdr='02:42:00:00:%s:%s' % (h(i >> 8), h(i & 255)), state=128)
t2 = time.perf_counter()
print(json.dumps({'fdb': (t1 - t0) * 1000, 'neigh': (t2 - t1) * 1000}))
`;

const bench: Benchmark = {
  description: `create+delete ${VETHS} veth pairs; append ${ENTRIES} FDB entries + ${ENTRIES} neighbours on one VXLAN device`,
  async run() {
    const rows: Row[] = [];
    const notes: string[] = [];
    const lab = await Lab.create();
    const dir = mkdtempSync(join(tmpdir(), 'weft-bench-'));
    try {
      const ns = await lab.netns('nl');
      const base = countLinks(ns);
      const rtnl = Rtnl.open({ netns: ns });

      // --- veth pairs ---
      const specs = Array.from({ length: VETHS }, (_, i) => ({ name: `wx${i}`, kind: 'veth' as const, group: 7, veth: { peer: { name: `wy${i}` } } }));
      const wAdd = await timeMs(() => addLinks(rtnl, specs));
      if (countLinks(ns) !== base + 2 * VETHS) throw new Error('weft veth add: wrong link count');
      const wDel = await timeMs(() => deleteLinkGroup(rtnl, 7));
      if (countLinks(ns) !== base) throw new Error('weft veth group delete: links left');
      // weft's per-link delete path as well, for the record.
      await addLinks(rtnl, specs);
      const wDelEach = await timeMs(() => deleteLinks(rtnl, specs.map((s) => s.name)));
      rows.push({ op: 'veth add', method: 'weft (pipelined)', ms: wAdd, ops_per_s: VETHS / (wAdd / 1000) });
      rows.push({ op: 'veth del', method: 'weft (ip link del group)', ms: wDel, ops_per_s: VETHS / (wDel / 1000) });
      rows.push({ op: 'veth del', method: 'weft (per link, pipelined)', ms: wDelEach, ops_per_s: VETHS / (wDelEach / 1000) });

      const addFile = join(dir, 'veth-add.batch');
      const delFile = join(dir, 'veth-del.batch');
      writeFileSync(addFile, specs.map((_, i) => `link add ix${i} type veth peer name iy${i}\n`).join(''));
      writeFileSync(delFile, specs.map((_, i) => `link del ix${i}\n`).join(''));
      const iAdd = await timeMs(() => sh(['ip', '-n', ns, '-batch', addFile]));
      const iDel = await timeMs(() => sh(['ip', '-n', ns, '-batch', delFile]));
      if (countLinks(ns) !== base) throw new Error('ip -batch: links left');
      rows.push({ op: 'veth add', method: 'ip -batch', ms: iAdd, ops_per_s: VETHS / (iAdd / 1000) });
      rows.push({ op: 'veth del', method: 'ip -batch', ms: iDel, ops_per_s: VETHS / (iDel / 1000) });

      const py = JSON.parse(sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', PY_VETH, String(VETHS)])) as { add: number; del: number };
      if (countLinks(ns) !== base) throw new Error('pyroute2: links left');
      rows.push({ op: 'veth add', method: 'pyroute2', ms: py.add, ops_per_s: VETHS / (py.add / 1000) });
      rows.push({ op: 'veth del', method: 'pyroute2', ms: py.del, ops_per_s: VETHS / (py.del / 1000) });

      // --- FDB + neighbours on one vxlan ---
      makeVxlan(ns);
      const fdbSpecs = Array.from({ length: ENTRIES }, (_, i) => ({ dev: 'vx0', mac: mac(i), dst: vtep(i) }));
      const neighSpecs = Array.from({ length: ENTRIES }, (_, i) => ({ dev: 'vx0', dst: nip(i), lladdr: mac(i, '02:42:00:00') }));
      const wFdb = await timeMs(() => fdbBatch(rtnl, 'append', fdbSpecs));
      const wNeigh = await timeMs(() => replaceNeighbours(rtnl, neighSpecs));
      if (fdbCount(ns) < ENTRIES || neighCount(ns) !== ENTRIES) throw new Error('weft fdb/neigh: wrong counts');
      await deleteLinks(rtnl, ['vx0']);
      rows.push({ op: 'fdb append', method: 'weft (pipelined)', ms: wFdb, ops_per_s: ENTRIES / (wFdb / 1000) });
      rows.push({ op: 'neigh replace', method: 'weft (pipelined)', ms: wNeigh, ops_per_s: ENTRIES / (wNeigh / 1000) });

      makeVxlan(ns);
      const fdbFile = join(dir, 'fdb.batch');
      const neighFile = join(dir, 'neigh.batch');
      writeFileSync(fdbFile, fdbSpecs.map((s) => `fdb append ${s.mac} dev vx0 dst ${s.dst} self permanent\n`).join(''));
      writeFileSync(neighFile, neighSpecs.map((s) => `neigh replace ${s.dst} lladdr ${s.lladdr} dev vx0 nud permanent\n`).join(''));
      const bFdb = await timeMs(() => sh(['bridge', '-n', ns, '-batch', fdbFile]));
      const iNeigh = await timeMs(() => sh(['ip', '-n', ns, '-batch', neighFile]));
      if (fdbCount(ns) < ENTRIES || neighCount(ns) !== ENTRIES) throw new Error('-batch fdb/neigh: wrong counts');
      sh(['ip', '-n', ns, 'link', 'del', 'vx0']);
      rows.push({ op: 'fdb append', method: 'bridge -batch', ms: bFdb, ops_per_s: ENTRIES / (bFdb / 1000) });
      rows.push({ op: 'neigh replace', method: 'ip -batch', ms: iNeigh, ops_per_s: ENTRIES / (iNeigh / 1000) });

      makeVxlan(ns);
      const pf = JSON.parse(sh(['ip', 'netns', 'exec', ns, '/usr/bin/python3', '-c', PY_FDB, String(ENTRIES)])) as { fdb: number; neigh: number };
      if (fdbCount(ns) < ENTRIES || neighCount(ns) !== ENTRIES) throw new Error('pyroute2 fdb/neigh: wrong counts');
      sh(['ip', '-n', ns, 'link', 'del', 'vx0']);
      rows.push({ op: 'fdb append', method: 'pyroute2', ms: pf.fdb, ops_per_s: ENTRIES / (pf.fdb / 1000) });
      rows.push({ op: 'neigh replace', method: 'pyroute2', ms: pf.neigh, ops_per_s: ENTRIES / (pf.neigh / 1000) });
      rtnl.close();

      const weftVeth = wAdd + wDel;
      const weftFdb = wFdb + wNeigh;
      notes.push('veth: weft creates the pairs in link group 7 and deletes them with one `ip link del group 7`-style request; per-link RTM_DELLINK costs ~16 ms each in the kernel whatever the client (docs/performance.md). The per-link weft figure is in the rows; veth_vs_*_per_link_delete ratios use it.');
      notes.push('ip/bridge -batch timings include process start-up (~2 ms); pyroute2 timings are in-process (interpreter + import excluded).');
      return {
        rows,
        ratios: {
          veth_vs_ip_batch: ratio(iAdd + iDel, weftVeth),
          veth_vs_pyroute2: ratio(py.add + py.del, weftVeth),
          veth_add_vs_ip_batch: ratio(iAdd, wAdd),
          veth_add_vs_pyroute2: ratio(py.add, wAdd),
          veth_vs_ip_batch_per_link_delete: ratio(iAdd + iDel, wAdd + wDelEach),
          veth_vs_pyroute2_per_link_delete: ratio(py.add + py.del, wAdd + wDelEach),
          fdb_vs_ip_batch: ratio(bFdb + iNeigh, weftFdb),
          fdb_vs_pyroute2: ratio(pf.fdb + pf.neigh, weftFdb),
        },
        notes,
      };
    } finally {
      rmSync(dir, { recursive: true, force: true });
      await lab.destroy();
    }
  },
};

export default bench;
