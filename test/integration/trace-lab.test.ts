/**
 * weft trace on captures made in the lab, beside tcpdump on the same
 * packets: two hosts on the underlay bridge (veth offloads on, so the
 * sender's captures hold TSO super-frames), ping, a DNS query to a closed
 * port (ICMP port unreachable), an iperf3 bulk transfer, ARP and IPv6
 * autoconfiguration. Captured at once by tcpdump (whole packets), tcpdump
 * -s 96 (cut) and `weft trace capture -w`:
 *   - weft's text for every packet of both files equals `tcpdump -n -S`'s
 *     (cut packets marked as tcpdump marks them, super-frames decoded);
 *   - each filter form selects what tcpdump's selects;
 *   - weft's live timestamps are the kernel's: per packet, distinct, never
 *     earlier than tcpdump's for the same packet.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have, run } from '../support/exec.js';
import { readCapture } from '../../src/wire/capture-reader.js';
import { parseFilter } from '../../src/trace/filter.js';
import { statsFile } from '../../src/trace/read.js';

const cli = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.js');
const skip = rootSkipReason();

/** Starts a capture inside `ns`; resolves once it says it is listening. */
async function startCapture(ns: string, argv: string[], ready: RegExp): Promise<ChildProcess> {
  const child = spawn('nsenter', [`--net=/var/run/netns/${ns}`, ...argv], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, TZ: 'UTC' } });
  await new Promise<void>((resolve, reject) => {
    let err = '';
    const t = setTimeout(() => reject(new Error(`capture did not start: ${err}`)), 15000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d;
      if (ready.test(err)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => reject(new Error(`capture exited ${code}: ${err}`)));
  });
  return child;
}

async function stopCapture(child: ChildProcess): Promise<void> {
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGINT');
  await done;
}

const MAC_PAIRS = /(^|: )(?:[0-9a-f]{2}:){5}[0-9a-f]{2} > (?:[0-9a-f]{2}:){5}[0-9a-f]{2}(?: vlan \d+)?,? ?/;

/** Lines without their time, and (weft) without the link addresses tcpdump -n leaves out. */
async function lines(argv: string[], weft: boolean): Promise<string[]> {
  const r = await run(argv, { env: { ...process.env, TZ: 'UTC' } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).map((l) => {
    const s = l.slice(l.indexOf(' ') + 1);
    return weft ? s.replace(MAC_PAIRS, '$1') : s;
  });
}

async function count(argv: string[]): Promise<number> {
  const r = await run(argv, { env: { ...process.env, TZ: 'UTC' } });
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter((l) => /^\d\d:\d\d:\d\d\.\d+ /.test(l)).length;
}

const FILTERS = [
  'tcp', 'udp', 'icmp', 'arp', 'ip', 'ip6', 'not ip', 'tcp port 5201', 'udp port 53', 'port 53 or 5201', 'src host 198.18.0.1',
  'dst net 198.18.0.0 mask 255.255.255.0', 'portrange 5000-6000', 'tcp[tcpflags] & tcp-syn != 0', 'tcp[tcpflags] & (tcp-fin|tcp-rst) != 0',
  'ip[8] < 65', 'icmp[icmptype] = icmp-unreach', 'greater 1000', 'less 100', 'ether broadcast', 'ip proto 17', 'ether proto 0x0806',
  'ether src host 02:00:00:00:0a:01', 'udp[8:2] > 0 and udp dst port 53',
];

describe('weft trace on lab captures (cut, TSO, live timestamps) against tcpdump', { skip }, () => {
  let lab: Lab;
  let a: LabHost;
  let b: LabHost;
  const dir = mkdtempSync(join(tmpdir(), 'weft-trace-lab-'));
  const full = join(dir, 'full.pcap');
  const cut = join(dir, 'cut.pcap');
  const live = join(dir, 'weft.pcapng');
  let missing: string | undefined;

  before(async () => {
    for (const tool of ['tcpdump', 'iperf3', 'dig', 'nsenter']) if (!(await have(tool))) missing ??= `${tool} not installed`;
    if (missing) return;
    lab = await Lab.create();
    a = await lab.host('a');
    b = await lab.host('b');
    await a.exec(['ip', 'link', 'set', 'eth0', 'address', '02:00:00:00:0a:01']);
    const caps = [
      await startCapture(a.netns, ['tcpdump', '-n', '-i', 'eth0', '-U', '--immediate-mode', '--time-stamp-precision=nano', '-w', full], /listening on/),
      await startCapture(a.netns, ['tcpdump', '-n', '-i', 'eth0', '-U', '--immediate-mode', '-s', '96', '-w', cut], /listening on/),
      await startCapture(a.netns, [process.execPath, cli, 'trace', 'capture', '-i', 'eth0', '-w', live], /capturing on/),
    ];
    try {
      const server = spawn('nsenter', [`--net=/var/run/netns/${b.netns}`, 'iperf3', '-s', '-1', '-B', b.address], { stdio: ['ignore', 'pipe', 'ignore'] });
      const listening = new Promise<void>((resolve) => {
        let out = '';
        server.stdout!.on('data', (d: Buffer) => {
          out += d;
          if (/listening/i.test(out)) resolve();
        });
        setTimeout(resolve, 5000);
      });
      await a.exec(['busybox', 'ping', '-c', '20', '-i', '0.02', b.address]);
      await run(['nsenter', `--net=/var/run/netns/${a.netns}`, 'dig', `@${b.address}`, 'example.com', '+tries=1', '+time=1']);
      await listening;
      const bulk = await run(['nsenter', `--net=/var/run/netns/${a.netns}`, 'iperf3', '-c', b.address, '-n', '2M', '-l', '64K']);
      assert.equal(bulk.code, 0, `iperf3: ${bulk.stderr || bulk.stdout}`);
      server.kill('SIGKILL');
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      for (const c of caps) await stopCapture(c);
    }
  });

  after(async () => {
    await lab?.destroy();
    rmSync(dir, { recursive: true, force: true });
  });

  for (const [name, file] of [['whole', full], ['cut to 96 bytes', cut]] as const) {
    it(`prints every packet of the ${name} capture as tcpdump -n -S does`, async (t) => {
      if (missing) return t.skip(missing);
      const theirs = await lines(['tcpdump', '-n', '-S', '-r', file], false);
      const ours = await lines([process.execPath, cli, 'trace', 'read', file], true);
      assert.ok(ours.length >= 40, `only ${ours.length} packets`);
      assert.equal(ours.length, theirs.length);
      ours.forEach((l, i) => assert.equal(l, theirs[i], `packet ${i + 1}`));
    });

    it(`selects from the ${name} capture what tcpdump selects, for every filter form`, async (t) => {
      if (missing) return t.skip(missing);
      for (const f of FILTERS) {
        assert.equal((await statsFile(file, { filter: parseFilter(f) })).packets, await count(['tcpdump', '-n', '-r', file, f]), f);
      }
    });
  }

  it('the captures hold what they should: cut packets, TSO super-frames, ICMP errors', async (t) => {
    if (missing) return t.skip(missing);
    const records = (file: string) => {
      const out: { caplen: number; origlen: number }[] = [];
      readCapture(readFileSync(file), { packet: (r) => out.push({ caplen: r.caplen, origlen: r.origlen }) });
      return out;
    };
    assert.ok(records(cut).some((r) => r.caplen < r.origlen), 'no packet was cut');
    assert.ok(records(full).some((r) => r.origlen > 1514), 'no TSO/GSO super-frame (offloads off?)');
    const text = await lines([process.execPath, cli, 'trace', 'read', cut], true);
    assert.ok(text.some((l) => /ICMP 198\.18\.0\.2 udp port 53 unreachable/.test(l)));
    const tcp = text.filter((l) => /\.5201[ :]/.test(l));
    assert.ok(tcp.some((l) => /Flags \[S\.\], seq \d+, ack \d+, win \d+, options \[mss \d+,/.test(l)), `no SYN-ACK among ${tcp.length} TCP lines: ${tcp.slice(0, 3).join(' / ')}`);
  });

  it('stamps live packets with the kernel time: per packet, distinct, never before tcpdump', async (t) => {
    if (missing) return t.skip(missing);
    // ICMP echo requests by sequence number, in both captures.
    const pings = (file: string) => {
      const out = new Map<number, bigint>();
      readCapture(readFileSync(file), {
        packet: (r) => {
          const d = r.data.subarray(r.offset, r.offset + r.caplen);
          if (d.length >= 42 && d[12] === 8 && d[13] === 0 && d[23] === 1 && d[34] === 8) {
            out.set((d[40]! << 8) | d[41]!, BigInt(r.sec) * 1_000_000_000n + BigInt(r.nsec));
          }
        },
      });
      return out;
    };
    const kernel = pings(full);
    const weft = pings(live);
    assert.equal(weft.size, 20);
    assert.equal(new Set(weft.values()).size, 20, 'one timestamp per packet');
    for (const [seq, ts] of weft) {
      const k = kernel.get(seq);
      assert.ok(k !== undefined, `tcpdump missed ping ${seq}`);
      assert.ok(ts >= k, `ping ${seq}: weft ${ts} is earlier than the kernel's ${k}`);
    }
  });
});
