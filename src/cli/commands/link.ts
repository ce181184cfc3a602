/**
 * `weft link ls|add|del|set` with iproute2's syntax, through weft's own
 * netlink code. `--netns NAME` and `--json` work on every verb.
 *   weft link add vx0 type vxlan id 42 dstport 4789 local 198.18.0.1 dev eth0 nolearning --netns h1
 *   weft link add ve0 type veth peer name eth0 netns c1
 *   weft link set vx0 master br0 up
 */
import { InvalidArgumentError } from '../../errors.js';
import type { Link } from '../../netlink/rtnetlink/link.js';
import { type LinkChange, type LinkKind, type LinkSpec, addLink, deleteLink, setLink } from '../../netlink/rtnetlink/link-ops.js';
import type { MacvlanMode } from '../../netlink/rtnetlink/link-kinds/macvlan.js';
import type { VxlanOptions } from '../../netlink/rtnetlink/link-kinds/vxlan.js';
import type { BridgeOptions } from '../../netlink/rtnetlink/link-kinds/bridge.js';
import { intArg } from '../args.js';
import { Words, runIprouteVerb } from '../iproute-verb.js';
import { linkToJson, linkToText } from '../iproute-json.js';

export const summary = 'list and change links (ip link syntax): ls | add | del | set';

const KINDS: LinkKind[] = ['bridge', 'veth', 'vxlan', 'macvlan', 'vlan', 'tun', 'tap', 'dummy'];

/** Generic link words (mtu, address, master, up ...); true when consumed. */
function commonWord(w: Words, word: string, t: LinkChange & { parent?: string; name?: string }): boolean {
  switch (word) {
    case 'mtu': t.mtu = w.int('mtu', 0, 0xffffffff); return true;
    case 'address': t.address = w.value('address'); return true;
    case 'master': t.master = w.value('master'); return true;
    case 'txqlen': case 'qlen': t.txqlen = w.int('txqlen', 0, 0xffffffff); return true;
    case 'up': t.up = true; return true;
    case 'down': t.up = false; return true;
    case 'netns': t.netns = w.value('netns'); return true;
    case 'link': t.parent = w.value('link'); return true;
    case 'name': t.name = w.value('name'); return true;
    default: return false;
  }
}

function vxlanWord(w: Words, word: string, v: Partial<VxlanOptions>): boolean {
  const on = !word.startsWith('no');
  switch (word) {
    case 'id': case 'vni': v.id = w.int('id', 0, 0xffffffff); return true;
    case 'dstport': v.port = w.int('dstport', 0, 65535); return true;
    case 'local': v.local = w.value('local'); return true;
    case 'remote': case 'group': v.group = w.value(word); return true;
    case 'dev': v.dev = w.value('dev'); return true;
    case 'learning': case 'nolearning': v.learning = on; return true;
    case 'proxy': case 'noproxy': v.proxy = on; return true;
    case 'l2miss': case 'nol2miss': v.l2miss = on; return true;
    case 'l3miss': case 'nol3miss': v.l3miss = on; return true;
    case 'rsc': case 'norsc': v.rsc = on; return true;
    case 'udpcsum': case 'noudpcsum': v.udpCsum = on; return true;
    case 'udp6zerocsumtx': case 'noudp6zerocsumtx': v.udpZeroCsum6Tx = on; return true;
    case 'udp6zerocsumrx': case 'noudp6zerocsumrx': v.udpZeroCsum6Rx = on; return true;
    case 'ageing': v.ageing = w.int('ageing', 0, 0xffffffff); return true;
    case 'maxaddress': v.limit = w.int('maxaddress', 0, 0xffffffff); return true;
    case 'tos': v.tos = w.int('tos', 0, 255); return true;
    case 'ttl': case 'hoplimit': {
      const t = w.value('ttl');
      if (t === 'inherit') v.ttlInherit = true;
      else v.ttl = t === 'auto' ? 0 : intArg('ttl', t, 0, 255);
      return true;
    }
    case 'srcport': v.portRange = [w.int('srcport low', 0, 65535), w.int('srcport high', 0, 65535)]; return true;
    default: return false;
  }
}

function bridgeWord(w: Words, word: string, b: BridgeOptions): boolean {
  switch (word) {
    case 'ageing_time': b.ageingTime = w.int(word, 0, 0xffffffff); return true;
    case 'stp_state': b.stpState = w.int(word, 0, 1) as 0 | 1; return true;
    case 'vlan_filtering': b.vlanFiltering = w.int(word, 0, 1) === 1; return true;
    case 'vlan_default_pvid': b.vlanDefaultPvid = w.int(word, 0, 4094); return true;
    case 'forward_delay': b.forwardDelay = w.int(word, 0, 0xffffffff); return true;
    case 'mcast_snooping': b.mcastSnooping = w.int(word, 0, 1) === 1; return true;
    default: return false;
  }
}

/** Parses `ip link add` words into a LinkSpec. */
export function parseAdd(words: string[]): LinkSpec {
  const w = new Words(words);
  const t: LinkChange & { parent?: string; name?: string } = {};
  let kind: LinkKind | undefined;
  const vx: Partial<VxlanOptions> = {};
  const br: BridgeOptions = {};
  let peer: LinkSpec['veth'];
  let mode: MacvlanMode | undefined;
  let vlanId: number | undefined;
  let vlanProto: '802.1Q' | '802.1ad' | undefined;
  if (!w.done && !['type', 'link', 'name'].includes(w.peek()!)) t.name = w.next();
  while (!w.done) {
    const word = w.next();
    if (word === 'type') {
      const k = w.value('type');
      if (!KINDS.includes(k as LinkKind)) throw new InvalidArgumentError(`unknown link type ${JSON.stringify(k)} (${KINDS.join(', ')})`);
      kind = k as LinkKind;
      continue;
    }
    if (kind === 'veth' && word === 'peer') {
      const p: { name: string; netns?: string; mtu?: number; address?: string } = { name: '' };
      while (!w.done) {
        const x = w.next();
        if (x === 'name') p.name = w.value('peer name');
        else if (x === 'netns') p.netns = w.value('peer netns');
        else if (x === 'mtu') p.mtu = w.int('peer mtu', 0, 0xffffffff);
        else if (x === 'address') p.address = w.value('peer address');
        else throw new InvalidArgumentError(`unknown veth peer option ${JSON.stringify(x)}`);
      }
      if (!p.name) throw new InvalidArgumentError('veth peer needs a name');
      peer = { peer: p };
      continue;
    }
    if (kind === 'vxlan' && vxlanWord(w, word, vx)) continue;
    if (kind === 'bridge' && bridgeWord(w, word, br)) continue;
    if (kind === 'macvlan' && word === 'mode') { mode = w.value('mode') as MacvlanMode; continue; }
    if (kind === 'vlan' && word === 'id') { vlanId = w.int('id', 0, 0xffffffff); continue; }
    if (kind === 'vlan' && word === 'protocol') { vlanProto = w.value('protocol') as '802.1Q'; continue; }
    if (commonWord(w, word, t)) continue;
    throw new InvalidArgumentError(`unknown link option ${JSON.stringify(word)}`);
  }
  if (!t.name) throw new InvalidArgumentError('link add needs a name');
  if (!kind) throw new InvalidArgumentError('link add needs `type KIND`');
  const spec: LinkSpec = { name: t.name, kind };
  if (t.mtu !== undefined) spec.mtu = t.mtu;
  if (t.address !== undefined) spec.address = t.address;
  if (typeof t.master === 'string') spec.master = t.master;
  if (t.txqlen !== undefined) spec.txqlen = t.txqlen;
  if (t.up) spec.up = true;
  if (t.parent !== undefined) spec.parent = t.parent;
  if (kind === 'vxlan') {
    if (vx.id === undefined) throw new InvalidArgumentError('vxlan needs `id VNI`');
    spec.vxlan = vx as VxlanOptions;
  }
  if (kind === 'bridge' && Object.keys(br).length) spec.bridge = br;
  if (kind === 'veth') {
    if (!peer) throw new InvalidArgumentError('veth needs `peer name NAME`');
    spec.veth = peer;
  }
  if (kind === 'macvlan' && mode) spec.macvlan = { mode };
  if (kind === 'vlan') {
    if (vlanId === undefined) throw new InvalidArgumentError('vlan needs `id N`');
    spec.vlan = { id: vlanId, ...(vlanProto ? { protocol: vlanProto } : {}) };
  }
  return spec;
}

/** Parses `ip link set DEV ...` words. */
export function parseSet(words: string[]): { dev: string; change: LinkChange } {
  const w = new Words(words);
  if (w.peek() === 'dev') w.next();
  if (w.done) throw new InvalidArgumentError('link set needs a device');
  const dev = w.next();
  const change: LinkChange & { parent?: string } = {};
  const vx: Partial<VxlanOptions> = {};
  const br: BridgeOptions = {};
  let kind: string | undefined;
  while (!w.done) {
    const word = w.next();
    if (word === 'nomaster') { change.master = null; continue; }
    if (word === 'type') { kind = w.value('type'); continue; }
    if (kind === 'vxlan' && vxlanWord(w, word, vx)) continue;
    if (kind === 'bridge' && bridgeWord(w, word, br)) continue;
    if (kind === 'macvlan' && word === 'mode') { change.macvlan = { mode: w.value('mode') as MacvlanMode }; continue; }
    if (word !== 'link' && commonWord(w, word, change)) continue;
    throw new InvalidArgumentError(`unknown link set option ${JSON.stringify(word)}`);
  }
  if (Object.keys(vx).length) change.vxlan = vx;
  if (Object.keys(br).length) change.bridge = br;
  return { dev, change };
}

export function run(args: string[]): Promise<number> {
  return runIprouteVerb('link', args, {
    async list(rtnl, words, json) {
      const names = words[0] === 'dev' ? words.slice(1, 2) : words.slice(0, 1);
      const links = await rtnl.links();
      const byIndex = new Map<number, Link>(links.map((l) => [l.index, l]));
      const shown = names.length ? links.filter((l) => names.includes(l.name)) : links;
      if (names.length && shown.length === 0) throw new InvalidArgumentError(`device ${JSON.stringify(names[0])} does not exist`);
      if (json) process.stdout.write(`${JSON.stringify(shown.map((l) => linkToJson(l, byIndex)))}\n`);
      else for (const l of shown) process.stdout.write(`${linkToText(l, byIndex)}\n`);
    },
    changes: {
      add: (rtnl, words) => addLink(rtnl, parseAdd(words)),
      del: (rtnl, words) => {
        const dev = words[0] === 'dev' ? words[1] : words[0];
        if (!dev) throw new InvalidArgumentError('link del needs a device');
        return deleteLink(rtnl, dev);
      },
      set: (rtnl, words) => {
        const { dev, change } = parseSet(words);
        return setLink(rtnl, dev, change);
      },
    },
  });
}
