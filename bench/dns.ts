/**
 * DNS queries per second and latency: weft's embedded DNS against dnsmasq
 * and unbound (1 thread), same zone (1,000 names svcN.weft -> 198.18.100+.x),
 * same dnsperf settings as perf.md §4. Each server runs in its own lab
 * namespace and dnsperf queries it over that namespace's loopback.
 * Rows: a throughput run (-c 10 -q 100, no rate cap) and a fixed-rate
 * latency run (-Q 10000, per-query latencies from -v for p50/p99).
 * Plus a forwarding row: weft forwarding every query to a dnsmasq upstream
 * on another lab host. weft runs with its per-client rate limit off
 * (dnsperf is one client doing tens of thousands of qps).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Lab } from '../test/support/lab.js';
import { run } from '../test/support/exec.js';
import { percentile, ratio, type Benchmark, type Row } from './lib.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', 'src', 'cli', 'main.js');
const N = 1000;
const addr = (i: number) => `198.18.${100 + (i >> 8)}.${i & 255}`;

interface PerfOut {
  qps: number;
  avgMs: number;
  lost: number;
  p50Ms?: number;
  p99Ms?: number;
}

async function dnsperf(ns: string, server: string, queries: string, extra: string[], seconds: number, verbose = false): Promise<PerfOut> {
  const args = ['ip', 'netns', 'exec', ns, 'dnsperf', '-s', server, '-d', queries, '-c', '10', '-T', '1', '-l', String(seconds), ...extra, ...(verbose ? ['-v'] : [])];
  const r = await run(args, { timeoutMs: (seconds + 30) * 1000 });
  const qps = Number(/Queries per second:\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN);
  const avgMs = Number(/Average Latency \(s\):\s+([\d.]+)/.exec(r.stdout)?.[1] ?? NaN) * 1000;
  const lost = Number(/Queries lost:\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const out: PerfOut = { qps, avgMs, lost };
  if (verbose) {
    const lat: number[] = [];
    for (const m of r.stdout.matchAll(/^> \S+ .* ([\d.]+)$/gm)) lat.push(Number(m[1]) * 1000);
    out.p50Ms = percentile(lat, 50);
    out.p99Ms = percentile(lat, 99);
  }
  return out;
}

function start(argv: string[]): ChildProcess {
  return spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
}

async function waitFor(ns: string, server: string, name: string): Promise<void> {
  for (let i = 0; i < 50; i++) {
    const r = await run(['ip', 'netns', 'exec', ns, 'dig', '+short', '+tries=1', '+time=1', `@${server}`, name]);
    if (r.stdout.trim()) return;
    await new Promise((res) => setTimeout(res, 200));
  }
  throw new Error(`server ${server} in ${ns} never answered ${name}`);
}

async function stop(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null) return;
  p.kill('SIGTERM');
  await new Promise((res) => {
    const t = setTimeout(() => {
      p.kill('SIGKILL');
      res(undefined);
    }, 3000);
    p.once('exit', () => {
      clearTimeout(t);
      res(undefined);
    });
  });
}

const bench: Benchmark = {
  description: 'dnsperf qps/latency: weft embedded DNS vs dnsmasq vs unbound, 1,000 A records, plus weft forwarding',
  async run(args) {
    const seconds = Number(args[0] ?? 10);
    const latSeconds = 4;
    const dir = mkdtempSync(join(tmpdir(), 'weft-dnsbench-'));
    const lab = await Lab.create();
    const procs: ChildProcess[] = [];
    const rows: Row[] = [];
    try {
      const hosts = Array.from({ length: N }, (_, i) => `${addr(i)} svc${i}.weft`).join('\n');
      writeFileSync(join(dir, 'hosts'), `${hosts}\n`);
      writeFileSync(join(dir, 'queries.txt'), `${Array.from({ length: N }, (_, i) => `svc${i}.weft A`).join('\n')}\n`);
      const local = Array.from({ length: N }, (_, i) => `  local-data: "svc${i}.weft. 600 IN A ${addr(i)}"`).join('\n');
      writeFileSync(join(dir, 'unbound.conf'), `server:\n  interface: 127.0.0.1\n  port: 53\n  num-threads: 1\n  do-daemonize: no\n  username: ""\n  chroot: ""\n  pidfile: ""\n  use-syslog: no\n  logfile: ""\n  verbosity: 0\n  access-control: 127.0.0.0/8 allow\n  local-zone: "weft." static\n${local}\n`);
      const q = join(dir, 'queries.txt');

      const servers: { name: string; argv: (ns: string) => string[] }[] = [
        { name: 'weft', argv: (ns) => [process.execPath, cli, 'dns', 'serve', '--netns', ns, '--listen', '127.0.0.1:53', '--hosts', join(dir, 'hosts'), '--rate-limit', '0'] },
        { name: 'dnsmasq', argv: (ns) => ['ip', 'netns', 'exec', ns, 'dnsmasq', '-k', '-C', '/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, '--local=/weft/', '--listen-address=127.0.0.1', '--bind-interfaces', '--port=53', '--user=root', '--pid-file='] },
        { name: 'unbound', argv: (ns) => ['ip', 'netns', 'exec', ns, 'unbound', '-d', '-c', join(dir, 'unbound.conf')] },
      ];
      const results = new Map<string, { t: PerfOut; l: PerfOut }>();
      for (const s of servers) {
        const ns = await lab.netns(s.name);
        const p = start(s.argv(ns));
        procs.push(p);
        await waitFor(ns, '127.0.0.1', 'svc1.weft');
        const t = await dnsperf(ns, '127.0.0.1', q, ['-q', '100'], seconds);
        const l = await dnsperf(ns, '127.0.0.1', q, ['-q', '100', '-Q', '10000'], latSeconds, true);
        results.set(s.name, { t, l });
        rows.push({ server: s.name, path: 'local', qps: Math.round(t.qps), avg_ms: t.avgMs, lost: t.lost, at10k_p50_ms: l.p50Ms ?? null, at10k_p99_ms: l.p99Ms ?? null, at10k_avg_ms: l.avgMs });
        await stop(p);
      }
      // Forwarding: weft on host fw, dnsmasq upstream on host up (198.18.0.2).
      const fw = await lab.host('fw');
      const up = await lab.host('up');
      const dm = start(['ip', 'netns', 'exec', up.netns, 'dnsmasq', '-k', '-C', '/dev/null', '--no-resolv', '--no-hosts', `--addn-hosts=${join(dir, 'hosts')}`, '--local=/weft/', `--listen-address=${up.address}`, '--bind-interfaces', '--port=53', '--user=root', '--pid-file=']);
      procs.push(dm);
      await waitFor(up.netns, up.address, 'svc1.weft');
      const wf = start([process.execPath, cli, 'dns', 'serve', '--netns', fw.netns, '--listen', '127.0.0.1:53', '--network', 'none', '--upstream', up.address, '--rate-limit', '0']);
      procs.push(wf);
      await waitFor(fw.netns, '127.0.0.1', 'svc1.weft');
      const ft = await dnsperf(fw.netns, '127.0.0.1', q, ['-q', '100'], seconds);
      const fl = await dnsperf(fw.netns, '127.0.0.1', q, ['-q', '100', '-Q', '5000'], latSeconds, true);
      rows.push({ server: 'weft', path: 'forward->dnsmasq', qps: Math.round(ft.qps), avg_ms: ft.avgMs, lost: ft.lost, at10k_p50_ms: fl.p50Ms ?? null, at10k_p99_ms: fl.p99Ms ?? null, at10k_avg_ms: fl.avgMs });
      const w = results.get('weft')!;
      const d = results.get('dnsmasq')!;
      const u = results.get('unbound')!;
      return {
        rows,
        ratios: {
          qps_vs_dnsmasq: ratio(w.t.qps, d.t.qps),
          qps_vs_unbound: ratio(w.t.qps, u.t.qps),
          p99_vs_dnsmasq: ratio(d.l.p99Ms, w.l.p99Ms),
          p99_vs_unbound: ratio(u.l.p99Ms, w.l.p99Ms),
        },
        notes: [
          `throughput: dnsperf -c 10 -q 100 -T 1 -l ${seconds}; latency: same with -Q 10000 -l ${latSeconds} -v (forward row: -Q 5000)`,
          'dnsperf shares the 2 vCPUs with the server, so qps are bounded by the client too (perf.md §4)',
          'weft runs with --rate-limit 0 (default 2000 qps per client would cap a single dnsperf client)',
          'forward row: the weft forwarder opens one socket per forwarded query (fresh random port, RFC 5452), which bounds its qps',
        ],
      };
    } finally {
      for (const p of procs) await stop(p);
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
    }
  },
};

export default bench;
