/**
 * A capture corpus made in the lab (ARP, ping, DNS-shaped UDP, TCP, VXLAN,
 * IPv6 NDP) with tcpdump (pcap, µs and ns), dumpcap (pcapng) and weft's
 * own writers (the other byte order), decoded by weft and by tshark: the
 * per-packet fields must agree.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have, run, sh } from '../support/exec.js';
import { readCapture } from '../../src/wire/capture-reader.js';
import { PcapWriter } from '../../src/wire/pcap.js';
import { PcapngWriter } from '../../src/wire/pcapng.js';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
const skip = rootSkipReason();

async function startCapture(ns: string, argv: string[]): Promise<ChildProcess> {
  const child = spawn('ip', ['netns', 'exec', ns, ...argv], { stdio: ['ignore', 'ignore', 'pipe'] });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`capture did not start: ${err}`)), 10000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      if (/listening on|Capturing on/i.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
  });
  return child;
}

async function stopCapture(child: ChildProcess): Promise<void> {
  await new Promise((r) => setTimeout(r, 300));
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await done;
}

interface Fields { time: string; src: string; dst: string; sport: string; dport: string; icmp: string; vni: string; arp: string; icmp6: string }

async function tsharkFields(file: string): Promise<Fields[]> {
  const out = await sh(['tshark', '-n', '-r', file, '-T', 'fields', '-E', 'separator=/t', '-E', 'occurrence=f',
    '-e', 'frame.time_epoch', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'udp.srcport', '-e', 'udp.dstport', '-e', 'tcp.srcport', '-e', 'tcp.dstport',
    '-e', 'icmp.type', '-e', 'vxlan.vni', '-e', 'arp.opcode', '-e', 'icmpv6.type']);
  // Only the final newline goes: trim() would also eat the tabs of empty trailing fields on the last line.
  return out.replace(/\n+$/, '').split('\n').map((line) => {
    const c = line.split('\t');
    return { time: c[0]!, src: c[1]!, dst: c[2]!, sport: c[3] || c[5]!, dport: c[4] || c[6]!, icmp: c[7]!, vni: c[8]!, arp: c[9]!, icmp6: c[10]! };
  });
}

async function weftFields(file: string): Promise<Fields[]> {
  const r = await run([process.execPath, cli, 'trace', 'read', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.trim().split('\n').map((line) => {
    const p = JSON.parse(line) as { time: string; layers: Record<string, unknown>[] };
    const first = (name: string) => p.layers.find((l) => l.layer === name);
    const ip = first('ipv4');
    const l4 = first('udp') ?? first('tcp');
    const [s, ns] = p.time.split('.');
    return {
      time: `${s}.${ns}`, src: String(ip?.source ?? ''), dst: String(ip?.destination ?? ''),
      sport: l4 ? String(l4.sourcePort) : '', dport: l4 ? String(l4.destinationPort) : '',
      icmp: first('icmpv4') ? String(first('icmpv4')!.type) : '', vni: first('vxlan') ? String(first('vxlan')!.vni) : '',
      arp: first('arp') ? String(first('arp')!.operation) : '', icmp6: first('icmpv6') ? String(first('icmpv6')!.type) : '',
    };
  });
}

function sameTime(a: string, b: string): boolean {
  // tshark prints the epoch with 9 digits; compare as exact decimal strings.
  const norm = (t: string) => {
    const [s, f = ''] = t.split('.');
    return `${s}.${f.padEnd(9, '0').slice(0, 9)}`;
  };
  return norm(a) === norm(b);
}

function convert(file: string, out: string, kind: 'pcap-be' | 'pcapng-be'): void {
  const parts: Buffer[] = [];
  const sink = (b: Uint8Array) => parts.push(Buffer.from(b));
  let pw: PcapWriter | undefined;
  let nw: PcapngWriter | undefined;
  readCapture(readFileSync(file), {
    interface: (i) => {
      if (kind === 'pcap-be') pw = new PcapWriter(sink, { littleEndian: false, nanosecond: i.tsExponent === 9, linktype: i.linktype });
      else {
        nw ??= new PcapngWriter(sink, { littleEndian: false });
        nw.addInterface({ linktype: i.linktype, name: i.name || 'eth0', tsExponent: 9 });
      }
    },
    packet: (r) => {
      const d = r.data.subarray(r.offset, r.offset + r.caplen);
      if (pw) pw.packet(r.sec, r.nsec, d, r.origlen);
      else nw!.packet(r.ifindex, r.sec, r.nsec, d, r.origlen);
    },
  });
  pw?.flush();
  nw?.flush();
  writeFileSync(out, Buffer.concat(parts));
}



describe('trace corpus: weft and tshark agree', { skip }, () => {
  let lab: Lab;
  let h1: LabHost;
  let h2: LabHost;
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-corpus-'));
  const files: Record<string, string> = {};

  before(async () => {
    if (!(await have('tshark')) || !(await have('tcpdump'))) return;
    lab = await Lab.create();
    h1 = await lab.host('a');
    h2 = await lab.host('b');
    for (const [h, peer, addr] of [[h1, h2, '198.19.0.1'], [h2, h1, '198.19.0.2']] as const) {
      await sh(['ip', '-n', h.netns, 'link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'remote', peer.address, 'local', h.address, 'dstport', '4789', 'dev', 'eth0']);
      await sh(['ip', '-n', h.netns, 'addr', 'add', `${addr}/24`, 'dev', 'vx0']);
      await sh(['ip', '-n', h.netns, 'link', 'set', 'vx0', 'up']);
    }
    files.pcap = join(dir, 'us.pcap');
    files.nano = join(dir, 'ns.pcap');
    files.pcapng = join(dir, 'dumpcap.pcapng');
    const caps = [
      await startCapture(h1.netns, ['tcpdump', '-n', '-i', 'eth0', '-U', '-w', files.pcap]),
      await startCapture(h1.netns, ['tcpdump', '-n', '-i', 'eth0', '-U', '--time-stamp-precision=nano', '-w', files.nano]),
      await startCapture(h1.netns, ['dumpcap', '-q', '-i', 'eth0', '-w', files.pcapng]).catch(() => undefined),
    ];
    await h1.exec(['busybox', 'ping', '-c', '2', '198.18.0.2']);
    await h1.exec(['busybox', 'ping', '-c', '2', '198.19.0.2']);
    await run(['ip', 'netns', 'exec', h1.netns, 'dig', '@198.18.0.2', 'example.com', '+tries=1', '+time=1']);
    await run(['ip', 'netns', 'exec', h1.netns, 'bash', '-c', 'exec 3<>/dev/tcp/198.18.0.2/80'], { timeoutMs: 5000 });
    await sh(['ip', '-n', h2.netns, 'link', 'set', 'eth0', 'down']);
    await sh(['ip', '-n', h2.netns, 'link', 'set', 'eth0', 'up']);
    await new Promise((r) => setTimeout(r, 1500));
    for (const c of caps) if (c) await stopCapture(c);
    files.pcapBe = join(dir, 'be.pcap');
    convert(files.nano, files.pcapBe, 'pcap-be');
    files.pcapngBe = join(dir, 'be.pcapng');
    convert(files.pcap, files.pcapngBe, 'pcapng-be');
  });

  after(async () => {
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const name of ['pcap', 'nano', 'pcapng', 'pcapBe', 'pcapngBe']) {
    it(`decodes the ${name} capture like tshark`, async (t) => {
      const file = files[name];
      if (!file) return t.skip('tshark/tcpdump missing');
      let theirs: Fields[];
      try {
        theirs = await tsharkFields(file);
      } catch (e) {
        return t.skip(`tshark could not read it: ${String(e).slice(0, 100)}`);
      }
      const ours = await weftFields(file);
      assert.equal(ours.length, theirs.length);
      assert.ok(ours.length >= 8, `only ${ours.length} packets captured`);
      const kinds = new Set<string>();
      ours.forEach((o, i) => {
        const w = theirs[i]!;
        assert.ok(sameTime(o.time, w.time), `packet ${i}: time ${o.time} vs ${w.time}`);
        // tshark also dissects the datagram quoted inside ICMP errors; weft summarises the error itself.
        if (o.icmp === '3' || o.icmp === '11') w.sport = w.dport = o.sport = o.dport = '';
        assert.deepEqual({ ...o, time: '' }, { ...w, time: '' }, `packet ${i}`);
        if (o.arp) kinds.add('arp');
        if (o.vni) kinds.add('vxlan');
        if (o.icmp) kinds.add('icmp');
        if (o.dport === '53') kinds.add('dns');
        if (o.dport === '80') kinds.add('tcp');
        if (o.icmp6 === '135' || o.icmp6 === '133') kinds.add('ndp');
      });
      for (const k of ['arp', 'vxlan', 'icmp', 'dns', 'tcp']) assert.ok(kinds.has(k), `no ${k} packet in the corpus`);
      // tcpdump reads the same number of packets (it prints VXLAN's inner frame on a line of its own).
      const td = await run(['tcpdump', '-n', '-r', file]);
      if (td.code === 0) assert.equal(td.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).length, ours.length);
    });
  }
});
