/**
 * weft's proxy ARP/NDP side by side with the kernel vxlan `proxy` mode for
 * the same table: identical ARP requests and Neighbor Solicitations are
 * sent out of a kernel vxlan device (proxy on) and out of weft's VTEP TAP
 * through AF_PACKET; the answers must match, and unknown addresses get no
 * answer on either side. Then the responder on a bridge port (AF_PACKET on
 * a veth whose peer is in the bridge): a client resolves an owned address,
 * never an unknown one, and learns a move from the gratuitous ARP. Last,
 * the kernel proxy_arp helper sets proxy_delay=0 and restores it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason } from '../support/lab.js';
import { run, sh } from '../support/exec.js';
import { PacketPort, type FrameBatch } from '../../src/io/tap.js';
import { SysctlChanges, readSysctl } from '../../src/io/sysctl.js';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLink, setLink } from '../../src/netlink/rtnetlink/link-ops.js';
import { addAddress } from '../../src/netlink/rtnetlink/addr.js';
import { addNeighbour } from '../../src/netlink/rtnetlink/neigh.js';
import { UserspaceVtep } from '../../src/dataplane/vtep-runtime.js';
import { ProxyArpPort, enableKernelProxyArp } from '../../src/dataplane/proxy-arp-port.js';
import { foldChecksum, macBytes, onesSum } from '../../src/wire/bytes.js';
import { ipv6Bytes } from '../../src/wire/ip.js';

const skip = rootSkipReason();
if (skip) console.log(`# skipping proxy-arp: ${skip}`);

const DEV_MAC = '02:42:c6:13:05:01';
const OWNER = '02:42:c6:13:05:05';
const MOVED = '02:42:c6:13:05:06';
const TABLE = [{ ip: '198.19.5.5', mac: OWNER }, { ip: 'fd00::5', mac: OWNER }];

function arpRequest(target: string): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6);
  f.set(macBytes(DEV_MAC), 6);
  f.writeUInt16BE(0x0806, 12);
  f.set([0, 1, 8, 0, 6, 4, 0, 1], 14);
  f.set(macBytes(DEV_MAC), 22);
  f.set([198, 19, 5, 1], 28);
  f.set(target.split('.').map(Number), 38);
  return f;
}

function neighborSolicitation(target: string): Buffer {
  const f = Buffer.alloc(86);
  const t = ipv6Bytes(target);
  f.set([0x33, 0x33, 0xff, t[13]!, t[14]!, t[15]!], 0);
  f.set(macBytes(DEV_MAC), 6);
  f.writeUInt16BE(0x86dd, 12);
  f[14] = 0x60;
  f.writeUInt16BE(32, 18);
  f[20] = 58;
  f[21] = 255;
  f.set(ipv6Bytes('fd00::1'), 22);
  f.set(ipv6Bytes('ff02::1:ff00:0'), 38);
  f.set(t.subarray(13), 51);
  f[54] = 135;
  f.set(t, 62);
  f[78] = 1;
  f[79] = 1;
  f.set(macBytes(DEV_MAC), 80);
  const sum = onesSum(f, 54, 32, onesSum(f, 38, 16, onesSum(f, 22, 16)) + 58 + 32);
  f.writeUInt16BE(foldChecksum(sum), 56);
  return f;
}

/** ARP replies and NAs seen on the port within `ms`. */
function replies(port: PacketPort, ms: number): Promise<Buffer[]> {
  const got: Buffer[] = [];
  return new Promise((resolve) => {
    port.start((b: FrameBatch) => {
      for (let i = 0; i < b.count; i++) {
        const f = b.buffer.subarray(i * b.slotSize, i * b.slotSize + b.lengths[i]!);
        const arpReply = f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 2;
        const na = f.readUInt16BE(12) === 0x86dd && f[20] === 58 && f[54] === 136;
        if (arpReply || na) got.push(Buffer.from(f));
      }
    });
    setTimeout(() => resolve(got), ms);
  });
}

async function ask(ns: string, dev: string, request: Buffer): Promise<Buffer[]> {
  const rtnl = Rtnl.open({ netns: ns });
  const link = await rtnl.link(dev);
  rtnl.close();
  const port = PacketPort.open({ ifindex: link!.index, name: dev, netns: ns });
  try {
    const pending = replies(port, 400);
    await new Promise((r) => setTimeout(r, 50));
    assert.ok(port.write(request, 0, request.length));
    return await pending;
  } finally {
    port.close();
  }
}

describe('proxy ARP/NDP: weft vs the kernel vxlan proxy mode, same table', { skip }, () => {
  let lab: Lab;
  let kns: string;
  let wns: string;
  let vtep: UserspaceVtep;

  before(async () => {
    lab = await Lab.create();
    kns = await lab.netns('k');
    wns = await lab.netns('w');
    const rtnl = Rtnl.open({ netns: kns });
    try {
      await addLink(rtnl, { name: 'vx0', kind: 'vxlan', mtu: 1450, address: DEV_MAC, vxlan: { id: 100, port: 4789, learning: false, proxy: true } });
      await addAddress(rtnl, { dev: 'vx0', address: '198.19.5.1/24' });
      await addAddress(rtnl, { dev: 'vx0', address: 'fd00::1/64', nodad: true });
      await setLink(rtnl, 'vx0', { up: true });
      for (const e of TABLE) await addNeighbour(rtnl, { dev: 'vx0', dst: e.ip, lladdr: e.mac, state: 'permanent' });
    } finally {
      rtnl.close();
    }
    vtep = await UserspaceVtep.open({ netns: wns, tap: 'wt0', vni: 100, local: '127.0.0.1', mac: DEV_MAC, address: '198.19.5.1/24', proxy: TABLE });
  });

  after(async () => {
    await vtep?.close();
    await lab?.destroy();
  });

  it('answers an owned IPv4 address exactly like the kernel', async () => {
    const k = await ask(kns, 'vx0', arpRequest('198.19.5.5'));
    const w = await ask(wns, 'wt0', arpRequest('198.19.5.5'));
    assert.equal(k.length, 1, 'kernel answered');
    assert.equal(w.length, 1, 'weft answered');
    assert.deepEqual(w[0], k[0], 'byte-identical ARP reply');
    assert.deepEqual(w[0]!.subarray(22, 28), Buffer.from(macBytes(OWNER)));
  });

  it('answers an owned IPv6 address like the kernel (same addresses, flags and target MAC)', async () => {
    const k = await ask(kns, 'vx0', neighborSolicitation('fd00::5'));
    const w = await ask(wns, 'wt0', neighborSolicitation('fd00::5'));
    assert.equal(k.length, 1, 'kernel answered');
    assert.equal(w.length, 1, 'weft answered');
    for (const [name, from, to] of [['ethernet', 0, 14], ['ipv6 addresses', 22, 54], ['target', 62, 78], ['target link-layer option', 78, 86]] as const) {
      assert.deepEqual(w[0]!.subarray(from, to), k[0]!.subarray(from, to), name);
    }
    assert.equal(w[0]![58]! & 0x60, k[0]![58]! & 0x60, 'S and O flags');
    assert.equal(w[0]![21], 255);
  });

  it('answers nothing for addresses outside the table, on either side', async () => {
    for (const req of [arpRequest('198.19.5.9'), neighborSolicitation('fd00::9')]) {
      assert.equal((await ask(kns, 'vx0', req)).length, 0);
      assert.equal((await ask(wns, 'wt0', req)).length, 0);
    }
    assert.ok(vtep.stats().proxy.not_owned >= 2);
  });
});

describe('proxy ARP on a bridge port through AF_PACKET', { skip }, () => {
  let lab: Lab;
  let br: string;
  let cns: string;
  let proxy: ProxyArpPort;

  before(async () => {
    lab = await Lab.create();
    br = await lab.netns('br');
    cns = await lab.netns('c');
    await sh(['ip', '-n', br, 'link', 'add', 'br0', 'type', 'bridge']);
    await sh(['ip', '-n', br, 'link', 'set', 'br0', 'up']);
    await sh(['ip', '-n', br, 'link', 'add', 'pb', 'type', 'veth', 'peer', 'name', 'pp']);
    await sh(['ip', '-n', br, 'link', 'set', 'pb', 'master', 'br0', 'up']);
    await sh(['ip', '-n', br, 'link', 'set', 'pp', 'up']);
    await sh(['ip', '-n', br, 'link', 'add', 'pc', 'type', 'veth', 'peer', 'name', 'c0', 'netns', cns]);
    await sh(['ip', '-n', br, 'link', 'set', 'pc', 'master', 'br0', 'up']);
    await sh(['ip', '-n', cns, 'addr', 'add', '198.19.6.1/24', 'dev', 'c0']);
    await sh(['ip', '-n', cns, 'link', 'set', 'c0', 'up']);
    const rtnl = Rtnl.open({ netns: br });
    const pp = await rtnl.link('pp');
    rtnl.close();
    proxy = new ProxyArpPort(PacketPort.open({ ifindex: pp!.index, name: 'pp', netns: br }));
    proxy.set('198.19.6.5', OWNER);
    proxy.start();
  });

  after(async () => {
    proxy?.close();
    await lab?.destroy();
  });

  it('resolves an owned address and nothing else', async () => {
    const ok = await run(['ip', 'netns', 'exec', cns, 'busybox', 'arping', '-c', '1', '-w', '2', '-I', 'c0', '198.19.6.5'], { timeoutMs: 10_000 });
    assert.match(ok.stdout, new RegExp(`reply from 198\\.19\\.6\\.5 \\[${OWNER}\\]`, 'i'));
    const none = await run(['ip', 'netns', 'exec', cns, 'busybox', 'arping', '-c', '1', '-w', '1', '-I', 'c0', '198.19.6.9'], { timeoutMs: 10_000 });
    assert.doesNotMatch(none.stdout, /reply from/i);
    assert.ok(proxy.responder.counters.not_owned >= 1);
  });

  it('announces a move with a gratuitous ARP the client learns', async () => {
    await run(['ip', 'netns', 'exec', cns, 'busybox', 'ping', '-c', '1', '-W', '1', '198.19.6.5'], { timeoutMs: 10_000 });
    assert.match(await sh(['ip', '-n', cns, 'neigh', 'show', '198.19.6.5']), new RegExp(OWNER, 'i'));
    assert.equal(proxy.set('198.19.6.5', MOVED), 'moved');
    let seen = '';
    for (let i = 0; i < 50 && !seen.toLowerCase().includes(MOVED); i++) {
      await new Promise((r) => setTimeout(r, 20));
      seen = await sh(['ip', '-n', cns, 'neigh', 'show', '198.19.6.5']);
    }
    assert.match(seen, new RegExp(MOVED, 'i'));
  });

  it('kernel proxy_arp helper sets proxy_delay=0 and restores it', async () => {
    const changes = new SysctlChanges(br);
    const before = await readSysctl(br, 'net/ipv4/neigh/pb/proxy_delay');
    await enableKernelProxyArp(changes, 'pb');
    assert.equal((await readSysctl(br, 'net/ipv4/neigh/pb/proxy_delay')).trim(), '0');
    assert.equal((await readSysctl(br, 'net/ipv4/conf/pb/proxy_arp')).trim(), '1');
    await changes.restore();
    assert.equal(await readSysctl(br, 'net/ipv4/neigh/pb/proxy_delay'), before);
  });
});
