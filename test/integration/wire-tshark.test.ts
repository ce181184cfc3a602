/**
 * Corpus test: real kernel traffic in lab namespaces (ping + ARP, a
 * DNS-shaped UDP query, a TCP connect, ping over a kernel VXLAN device,
 * IPv6 NDP), captured with tcpdump -w, decoded frame by frame with
 * decodeFrame and compared field by field with `tshark -T json`.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have, json, run, sh } from '../support/exec.js';
import { decodeFrame, type Layer } from '../../src/wire/frame.js';

/** Minimal classic-pcap reader (the real one lives elsewhere): frames only. */
function readPcap(file: string): Uint8Array[] {
  const b = readFileSync(file);
  const magic = b.readUInt32LE(0);
  const le = magic === 0xa1b2c3d4 || magic === 0xa1b23c4d;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4 && b.readUInt32BE(0) !== 0xa1b23c4d) throw new Error('not a pcap file');
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const frames: Uint8Array[] = [];
  for (let o = 24; o + 16 <= b.length; ) {
    const incl = u32(o + 8);
    frames.push(new Uint8Array(b.subarray(o + 16, o + 16 + incl)));
    o += 16 + incl;
  }
  return frames;
}

type TsharkLayers = Record<string, unknown>;

/** tshark values are strings ("0x0800", "64"); arrays when a protocol repeats (VXLAN inner layers). */
function nth(layers: TsharkLayers, proto: string, k: number): Record<string, unknown> | undefined {
  const v = layers[proto];
  if (Array.isArray(v)) return v[k] as Record<string, unknown>;
  return k === 0 ? (v as Record<string, unknown> | undefined) : undefined;
}

/** Finds a field anywhere inside a tshark protocol tree (subtrees nest fields). */
function field(tree: unknown, name: string): string | undefined {
  if (!tree || typeof tree !== 'object') return undefined;
  for (const [k, v] of Object.entries(tree)) {
    if (k === name) return Array.isArray(v) ? String(v[0]) : String(v);
    const found = field(v, name);
    if (found !== undefined) return found;
  }
  return undefined;
}

const num = (s: string | undefined) => (s === undefined ? undefined : s.startsWith('0x') ? parseInt(s, 16) : Number(s));

const skip = rootSkipReason() ?? ((await have('tshark')) && (await have('tcpdump')) ? undefined : 'needs tshark and tcpdump');
if (skip) console.log(`# skipping wire-tshark: ${skip}`);

describe('wire codecs vs tshark on captured lab traffic', { skip }, () => {
  let lab: Lab;
  let a: LabHost;
  let b: LabHost;
  let dir: string;
  let capture: ChildProcess | undefined;

  before(async () => {
    lab = await Lab.create();
    a = await lab.host('a');
    b = await lab.host('b');
    dir = mkdtempSync(join(tmpdir(), 'weft-wire-'));
    for (const [h, peer, inner] of [[a, '198.18.0.2', '198.19.0.1'], [b, '198.18.0.1', '198.19.0.2']] as const) {
      await sh(['ip', '-n', h.netns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'remote', peer, 'dstport', '4789', 'dev', 'eth0']);
      await sh(['ip', '-n', h.netns, 'addr', 'add', `${inner}/24`, 'dev', 'vx0']);
      await sh(['ip', '-n', h.netns, 'link', 'set', 'vx0', 'up']);
    }
  });

  after(async () => {
    capture?.kill('SIGKILL');
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  it('decodes every captured frame as tshark does', async () => {
    const file = join(dir, 'corpus.pcap');
    capture = spawn('ip', ['netns', 'exec', a.netns, 'tcpdump', '-i', 'eth0', '-U', '-n', '-w', file], { stdio: ['ignore', 'ignore', 'pipe'] });
    await new Promise<void>((resolve, reject) => {
      capture!.stderr!.on('data', (d: Buffer) => d.toString().includes('listening on') && resolve());
      capture!.once('exit', (c) => reject(new Error(`tcpdump exited ${c}`)));
    });

    await a.exec(['busybox', 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.18.0.2']); // ARP + ICMP echo
    // DNS-shaped UDP query to a port with no server (ICMP port unreachable comes back: also decoded).
    await a.exec([process.execPath, '-e', `const s=require('dgram').createSocket('udp4');s.send(Buffer.from('123401000001000000000000037777770377656674000001000f','hex'),53,'198.18.0.2',()=>s.close())`]);
    // TCP: SYN answered by RST.
    await run(['ip', 'netns', 'exec', a.netns, process.execPath, '-e', `require('net').connect(80,'198.18.0.2').on('error',()=>{})`]);
    await a.exec(['busybox', 'ping', '-c', '2', '-i', '0.2', '-W', '2', '198.19.0.2']); // over VXLAN (inner ARP + ICMP)
    // IPv6 NDP: wait for both link-local addresses to leave DAD (a's too: a
    // tentative source fails with EADDRNOTAVAIL), then ping b.
    const linkLocal = async (ns: string) => {
      for (let i = 0; i < 100; i++) {
        const addrs = await json<{ addr_info: { family: string; scope: string; local: string; tentative?: boolean }[] }[]>(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', 'eth0']);
        const ll = addrs[0]?.addr_info.find((x) => x.family === 'inet6' && x.scope === 'link' && !x.tentative)?.local;
        if (ll) return ll;
        await new Promise((r) => setTimeout(r, 100));
      }
      return '';
    };
    const ll = await linkLocal(b.netns);
    assert.ok(ll, 'b has a link-local IPv6 address');
    assert.ok(await linkLocal(a.netns), 'a has a link-local IPv6 address');
    await a.exec(['busybox', 'ping', '-6', '-c', '1', '-W', '2', '-I', 'eth0', ll]);
    await new Promise((r) => setTimeout(r, 300));
    capture.kill('SIGINT');
    await new Promise((r) => capture!.once('exit', r));
    capture = undefined;

    const frames = readPcap(file);
    const packets = await json<{ _source: { layers: TsharkLayers } }[]>(['tshark', '-r', file, '-T', 'json', '--no-duplicate-keys']);
    assert.equal(frames.length, packets.length);
    const seen = new Set<string>();
    let compared = 0;

    frames.forEach((frame, i) => {
      const decoded = decodeFrame(frame);
      const ts = packets[i]!._source.layers;
      assert.equal(decoded.error, undefined, `frame ${i + 1}: ${JSON.stringify(decoded.error)}`);
      const count: Record<string, number> = {};
      const cmp = (what: string, ours: unknown, theirs: unknown) => {
        compared++;
        assert.equal(ours, theirs, `frame ${i + 1} ${what}`);
      };
      for (const l of decoded.layers as Layer[]) {
        seen.add(l.layer);
        const proto = { ethernet: 'eth', ipv4: 'ip', icmpv4: 'icmp' }[l.layer as string] ?? l.layer;
        const k = (count[proto] = (count[proto] ?? -1) + 1);
        const t = l.layer === 'payload' ? undefined : nth(ts, proto, k);
        if (l.layer !== 'payload') assert.ok(t, `frame ${i + 1}: tshark has no ${proto}[${k}]`);
        switch (l.layer) {
          case 'ethernet':
            cmp('eth.dst', l.destination, field(t, 'eth.dst'));
            cmp('eth.src', l.source, field(t, 'eth.src'));
            cmp('eth.type', l.etherType, num(field(t, 'eth.type')));
            break;
          case 'arp':
            cmp('arp.opcode', l.operation, num(field(t, 'arp.opcode')));
            cmp('arp.src.hw_mac', l.senderHardwareAddress, field(t, 'arp.src.hw_mac'));
            cmp('arp.src.proto_ipv4', l.senderProtocolAddress, field(t, 'arp.src.proto_ipv4'));
            cmp('arp.dst.hw_mac', l.targetHardwareAddress, field(t, 'arp.dst.hw_mac'));
            cmp('arp.dst.proto_ipv4', l.targetProtocolAddress, field(t, 'arp.dst.proto_ipv4'));
            break;
          case 'ipv4':
            cmp('ip.src', l.source, field(t, 'ip.src'));
            cmp('ip.dst', l.destination, field(t, 'ip.dst'));
            cmp('ip.ttl', l.ttl, num(field(t, 'ip.ttl')));
            cmp('ip.id', l.identification, num(field(t, 'ip.id')));
            cmp('ip.proto', l.protocol, num(field(t, 'ip.proto')));
            cmp('ip.len', l.totalLength, num(field(t, 'ip.len')));
            cmp('ip.flags.df', l.dontFragment, field(t, 'ip.flags.df') === '1');
            cmp('ip.checksum', l.checksum, num(field(t, 'ip.checksum')));
            break;
          case 'ipv6':
            cmp('ipv6.src', l.source, field(t, 'ipv6.src'));
            cmp('ipv6.dst', l.destination, field(t, 'ipv6.dst'));
            cmp('ipv6.nxt', l.nextHeader, num(field(t, 'ipv6.nxt')));
            cmp('ipv6.hlim', l.hopLimit, num(field(t, 'ipv6.hlim')));
            cmp('ipv6.plen', l.payloadLength, num(field(t, 'ipv6.plen')));
            break;
          case 'icmpv4':
            cmp('icmp.type', l.type, num(field(t, 'icmp.type')));
            cmp('icmp.code', l.code, num(field(t, 'icmp.code')));
            cmp('icmp.checksum', l.checksum, num(field(t, 'icmp.checksum')));
            if (l.identifier !== undefined) cmp('icmp.ident', l.identifier, num(field(t, 'icmp.ident')));
            if (l.sequence !== undefined) cmp('icmp.seq', l.sequence, num(field(t, 'icmp.seq')));
            break;
          case 'icmpv6':
            cmp('icmpv6.type', l.type, num(field(t, 'icmpv6.type')));
            cmp('icmpv6.code', l.code, num(field(t, 'icmpv6.code')));
            if (l.ndp?.kind === 'neighbor-solicitation') cmp('ns target', l.ndp.target, field(t, 'icmpv6.nd.ns.target_address'));
            if (l.ndp?.kind === 'neighbor-advertisement') cmp('na target', l.ndp.target, field(t, 'icmpv6.nd.na.target_address'));
            for (const o of l.ndp?.options ?? []) {
              if ('linkLayerAddress' in o) cmp('nd option lladdr', o.linkLayerAddress, field(t, 'icmpv6.opt.linkaddr'));
            }
            break;
          case 'udp':
            cmp('udp.srcport', l.sourcePort, num(field(t, 'udp.srcport')));
            cmp('udp.dstport', l.destinationPort, num(field(t, 'udp.dstport')));
            cmp('udp.length', l.datagramLength, num(field(t, 'udp.length')));
            break;
          case 'tcp':
            cmp('tcp.srcport', l.sourcePort, num(field(t, 'tcp.srcport')));
            cmp('tcp.dstport', l.destinationPort, num(field(t, 'tcp.dstport')));
            cmp('tcp.seq_raw', l.sequenceNumber, num(field(t, 'tcp.seq_raw')));
            cmp('tcp.ack_raw', l.acknowledgmentNumber, num(field(t, 'tcp.ack_raw')));
            cmp('tcp.flags', l.flags, num(field(t, 'tcp.flags')));
            cmp('tcp.window_size_value', l.window, num(field(t, 'tcp.window_size_value')));
            cmp('tcp.hdr_len', l.headerLength, num(field(t, 'tcp.hdr_len')));
            break;
          case 'vxlan':
            cmp('vxlan.vni', l.vni, num(field(t, 'vxlan.vni')));
            cmp('vxlan.flags', l.flags << 8, num(field(t, 'vxlan.flags')));
            break;
        }
      }
    });
    for (const want of ['ethernet', 'arp', 'ipv4', 'icmpv4', 'udp', 'tcp', 'vxlan', 'ipv6', 'icmpv6']) assert.ok(seen.has(want), `corpus has ${want}`);
    assert.ok(compared > 100, `compared ${compared} fields`);
  });
});
