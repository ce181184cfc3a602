/**
 * `weft status [--json]`: the first screen an operator reads. It asks the
 * running daemon (its control socket) what it serves, reads the store
 * (networks, endpoints, live hosts) and the kernel (modules, each overlay's
 * peer FDB entries), probes etcd and the peers' VTEPs, and lists every
 * problem with a one-line hint. Exit 0 when healthy, 1 when something is
 * wrong (usable as a health check), 2 on bad arguments. It changes nothing.
 */
import { pathExists, readTextFile } from '../../io/files.js';
import { release } from 'node:os';
import type { EndpointRecord, NetworkRecord } from '../../cnm/model.js';
import { names } from '../../cnm/model.js';
import type { HostRecord } from '../../control/peer-table.js';
import { controlSocketPath } from '../../daemon/control.js';
import { DEFAULTS } from '../../daemon/defaults.js';
import { within } from '../../daemon/status.js';
import { InvalidArgumentError } from '../../errors.js';
import { httpGet } from '../../io/unix-http.js';
import { redact } from '../../log.js';
import { version } from '../../version.js';
import { intArg } from '../args.js';
import { bool, parseFlags, str } from '../flags.js';
import { readState } from '../state.js';
import { flagsOf } from '../verbs.js';

export const summary = 'health of this host: store, peers, networks, DNS, mesh, problems with hints';

export interface Problem {
  code: string;
  message: string;
  hint: string;
}

interface DaemonView {
  host: string | null;
  instance: string;
  pid: number;
  started: string;
  ready: boolean;
  store: { kind: string; url?: string; reachable: boolean; ms: number; error?: string };
  reconcile: { errors: string[]; removed: string[] } | null;
  local: string | null;
  lease: { ttl: number; key: string } | null;
  dns: { network: string; netns: string | null; address: string; port: number }[];
  mesh: { backend: string | null; requested: string; services: { name: string; backends: number }[] } | null;
}

/** Evidence that a kernel feature is there: a sysfs/procfs path when loaded or built in. */
const MODULE_EVIDENCE: Record<string, string[]> = {
  vxlan: ['/sys/module/vxlan'],
  bridge: ['/sys/module/bridge'],
  macvlan: ['/sys/module/macvlan'],
  '8021q': ['/sys/module/8021q', '/proc/net/vlan'],
  ip_vs: ['/sys/module/ip_vs', '/proc/net/ip_vs'],
  esp4: ['/sys/module/esp4'],
};

/** Loaded, built in, or loadable from /lib/modules (the kernel loads it on first use). */
export function moduleAvailable(name: string): boolean {
  if ((MODULE_EVIDENCE[name] ?? [`/sys/module/${name}`]).some((p) => pathExists(p))) return true;
  const dir = `/lib/modules/${release()}`;
  for (const f of ['modules.builtin', 'modules.dep']) {
    try {
      const text = readTextFile(`${dir}/${f}`);
      if (new RegExp(`/${name.replace(/_/g, '[_-]')}\\.ko`).test(text)) return true;
    } catch {
      // not there: keep looking
    }
  }
  return false;
}

const MODULE_HINT: Record<string, string> = {
  vxlan: 'overlay networks need it: modprobe vxlan (CONFIG_VXLAN)',
  bridge: 'bridge and overlay networks need it: modprobe bridge',
  macvlan: 'macvlan networks need it: modprobe macvlan',
  '8021q': 'VLAN parents (parent=eth0.N) need it: modprobe 8021q',
  ip_vs: 'the ipvs mesh backend needs it: modprobe ip_vs, or run the daemon with --mesh nft (or auto)',
  esp4: 'encrypted overlays need it: modprobe esp4',
};

function modulesNeeded(networks: NetworkRecord[], daemon: DaemonView | undefined): string[] {
  const need = new Set<string>();
  for (const n of networks) {
    if (n.mode === 'overlay') need.add('vxlan').add('bridge');
    if (n.mode === 'bridge') need.add('bridge');
    if (n.mode === 'macvlan') {
      need.add('macvlan');
      if (n.parent?.includes('.')) need.add('8021q');
    }
    if (n.options.encrypted !== undefined) need.add('esp4');
  }
  const mesh = daemon?.mesh;
  if (mesh && (mesh.requested === 'ipvs' || mesh.backend === 'ipvs')) need.add('ip_vs');
  return [...need].sort();
}

async function readDaemon(socket: string, timeoutMs: number): Promise<DaemonView | string> {
  if (!pathExists(socket)) return `no control socket at ${socket}`;
  try {
    const r = await httpGet({ socketPath: socket }, '/status', timeoutMs + 1000);
    if (r.status !== 200) return `control socket answered ${r.status}`;
    return JSON.parse(r.body) as DaemonView;
  } catch (err) {
    return (err as Error).message;
  }
}

interface StoreView {
  kind: string;
  url: string;
  reachable: boolean;
  ms?: number;
  members?: { name: string; url: string; reachable: boolean; ms: number; leader: boolean }[];
  leader?: string | null;
  error?: string;
}

/** etcd: the members, each probed, and who leads; all under timeoutMs. */
async function etcdHealth(url: string, timeoutMs: number): Promise<StoreView> {
  const view: StoreView = { kind: 'etcd', url: String(redact(url)), reachable: false };
  const { EtcdStore } = await import('../../control/etcd-store.js');
  const { tcpProbe } = await import('../../io/probe.js');
  const c = await within(timeoutMs, EtcdStore.connect(url));
  if (!c.ok) {
    view.error = c.error;
    return view;
  }
  const store = c.value;
  try {
    view.reachable = true;
    view.ms = Math.round(c.ms * 10) / 10;
    const list = await within(timeoutMs, store.client.cluster.memberList({}));
    const st = await within(timeoutMs, store.client.maintenance.status({}));
    const leader = st.ok ? String(st.value.leader) : undefined;
    if (list.ok) {
      view.members = await Promise.all(list.value.members.map(async (m) => {
        const u = new URL(m.clientURLs[0] ?? 'http://unknown:0');
        const p = await tcpProbe(u.hostname.replace(/^\[|\]$/g, ''), Number(u.port || 2379), timeoutMs);
        return { name: m.name, url: u.host, reachable: p.ok, ms: Math.round(p.ms * 10) / 10, leader: leader !== undefined && String(m.ID) === leader };
      }));
      view.leader = view.members.find((m) => m.leader)?.name ?? null;
    }
  } finally {
    void within(timeoutMs, store.close());
  }
  return view;
}

export interface StatusReport {
  version: string;
  ok: boolean;
  daemon: (DaemonView & { running: true }) | { running: false; error: string };
  store: StoreView;
  host: { name: string | null; address: string | null; lease: { ttl: number; registered: boolean } | null };
  networks: { id: string; mode: string; vni: number | null; encrypted: boolean; endpointsHere: number; endpointsTotal: number }[];
  peers: { name: string; address: string; reachable: boolean | null; ms?: number }[];
  dns: DaemonView['dns'];
  mesh: DaemonView['mesh'];
  problems: Problem[];
}

export async function collect(opts: { stateDir: string; store?: string; control?: string; timeoutMs: number }): Promise<StatusReport> {
  const problems: Problem[] = [];
  const d = await readDaemon(opts.control ?? controlSocketPath(opts.stateDir), opts.timeoutMs);
  const daemon = typeof d === 'string' ? undefined : d;
  if (!daemon) {
    problems.push({ code: 'daemon-down', message: `the weft daemon does not answer (${d as string})`, hint: 'start it: systemctl start weft (or weft daemon --state-dir DIR); traffic keeps flowing, changes fail meanwhile' });
  } else {
    if (!daemon.ready && daemon.store.reachable) problems.push({ code: 'daemon-not-ready', message: 'the daemon has not finished reconciling the kernel with the store', hint: 'wait a moment; if it stays, read the daemon log (journalctl -u weft)' });
    for (const e of daemon.reconcile?.errors ?? []) problems.push({ code: 'reconcile-error', message: `reconcile could not fix ${e}`, hint: 'read the daemon log; a restart retries' });
  }
  const storeUrl = opts.store ?? daemon?.store.url ?? process.env.WEFT_STORE ?? DEFAULTS.store;
  const shared = storeUrl.startsWith('etcd');
  let store: StoreView;
  if (shared) {
    store = await etcdHealth(storeUrl, opts.timeoutMs);
    if (!store.reachable) problems.push({ code: 'etcd-unreachable', message: `etcd at ${store.url} does not answer (${store.error ?? 'no answer'})`, hint: 'check etcd (systemctl status etcd, etcdctl endpoint health); traffic keeps flowing, new networks and containers fail until it is back' });
    for (const m of store.members ?? []) {
      if (!m.reachable) problems.push({ code: 'etcd-member-down', message: `etcd member ${m.name || m.url} at ${m.url} is not reachable`, hint: 'the cluster works while a quorum is up; bring the member back' });
    }
    if (store.reachable && store.members && store.leader === null) problems.push({ code: 'etcd-no-leader', message: 'etcd has no leader', hint: 'a quorum of members is down: bring members back' });
  } else {
    store = { kind: 'embedded', url: `${opts.stateDir}/state.journal`, reachable: pathExists(opts.stateDir) };
  }
  const read = async (prefix: string): Promise<Map<string, string>> => {
    if (!store.reachable && shared) return new Map();
    const r = await within(opts.timeoutMs * 3, readState({ stateDir: opts.stateDir, store: storeUrl, rest: [] }, prefix));
    return r.ok ? r.value : new Map();
  };
  const [netMap, epMap, hostMap] = await Promise.all([read('networks/'), read('endpoints/'), shared ? read('hosts/') : Promise.resolve(new Map<string, string>())]);
  const networks = [...netMap.values()].map((v) => JSON.parse(v) as NetworkRecord);
  const endpoints = [...epMap.values()].map((v) => JSON.parse(v) as EndpointRecord);
  const hosts = [...hostMap.values()].map((v) => JSON.parse(v) as HostRecord);
  const hostName = daemon?.host ?? null;
  const here = (e: EndpointRecord) => !e.host || e.host === hostName;
  const live = new Map(hosts.map((h) => [h.name, h]));

  if (shared && daemon && store.reachable && hostName && !live.has(hostName)) {
    problems.push({ code: 'lease-lost', message: `this host (${hostName}) is not registered in etcd: its lease expired`, hint: 'the daemon re-registers when etcd answers again; other hosts drop its endpoints meanwhile' });
  }

  for (const m of modulesNeeded(networks, daemon)) {
    if (!moduleAvailable(m)) problems.push({ code: 'kernel-module-missing', message: `kernel module ${m} is missing`, hint: MODULE_HINT[m] ?? `modprobe ${m}` });
  }

  // Endpoints of hosts whose lease is gone: nobody programs them.
  if (shared && store.reachable) {
    const stale = new Map<string, number>();
    for (const e of endpoints) if (e.host && !live.has(e.host)) stale.set(e.host, (stale.get(e.host) ?? 0) + 1);
    for (const [h, n] of stale) problems.push({ code: 'stale-peer', message: `host ${h} has ${n} endpoint(s) in the store but no live lease`, hint: `start weft on ${h} again, or remove its containers; other hosts do not route to them meanwhile` });
  }

  const peers: StatusReport['peers'] = hosts.filter((h) => h.name !== hostName).sort((a, b) => a.name.localeCompare(b.name)).map((h) => ({ name: h.name, address: h.address, reachable: null }));
  if (peers.length) {
    const { pingOnce } = await import('../../io/probe.js');
    await Promise.all(peers.map(async (p) => {
      const r = await pingOnce(p.address, opts.timeoutMs);
      p.reachable = r.ok;
      if (r.ok) p.ms = Math.round(r.ms * 10) / 10;
      else problems.push({ code: 'peer-unreachable', message: `peer ${p.name}'s VTEP ${p.address} does not answer ping (${r.error})`, hint: `check the underlay route to ${p.address} and that UDP 4789 passes between the hosts` });
    }));
  }

  // The kernel against the store: every other live host's endpoint has its FDB entry on this host's overlay.
  if (daemon && shared) {
    const { readKernelPeers } = await import('../../control/peers.js');
    const { withRtnl } = await import('../../cnm/drivers/links.js');
    for (const n of networks.filter((x) => x.mode === 'overlay')) {
      const ns = names.overlayNetns(n.id, daemon.instance);
      if (!pathExists(`/var/run/netns/${ns}`)) continue;
      const want = endpoints.filter((e) => e.networkId === n.id && e.host && e.host !== hostName && live.has(e.host));
      const k = await withRtnl(ns, readKernelPeers).catch(() => undefined);
      if (!k) continue;
      const wanted = new Set(want.map((e) => e.mac.toLowerCase()));
      for (const e of want) {
        const vtep = live.get(e.host!)!.address;
        const got = k.fdb.get(e.mac.toLowerCase());
        if (got === undefined) problems.push({ code: 'fdb-missing', message: `network ${n.id.slice(0, 12)}: no FDB entry for ${e.mac} (endpoint ${e.id.slice(0, 12)} on ${e.host}) in ${ns}`, hint: 'the daemon restores it at its next full resync (30 s); restart weft to restore it now' });
        else if (got !== vtep) problems.push({ code: 'fdb-wrong', message: `network ${n.id.slice(0, 12)}: ${e.mac} points at ${got}, the store says ${e.host} (${vtep})`, hint: 'the daemon corrects it at its next full resync (30 s); restart weft to correct it now' });
      }
      const vteps = new Set(hosts.map((h) => h.address));
      for (const [mac, dst] of k.fdb) {
        if (!wanted.has(mac) && !vteps.has(dst)) problems.push({ code: 'fdb-stale', message: `network ${n.id.slice(0, 12)}: FDB entry ${mac} → ${dst} points at no live host`, hint: 'the daemon removes it at its next full resync; restart weft to remove it now' });
      }
    }
  }

  return {
    version: version(),
    ok: problems.length === 0,
    daemon: daemon ? { running: true, ...daemon } : { running: false, error: d as string },
    store,
    host: { name: hostName, address: daemon?.local ?? null, lease: daemon?.lease ? { ttl: daemon.lease.ttl, registered: hostName !== null && live.has(hostName) } : null },
    networks: networks.map((n) => ({
      id: n.id, mode: n.mode, vni: n.vni ?? null, encrypted: n.options.encrypted !== undefined,
      endpointsHere: endpoints.filter((e) => e.networkId === n.id && here(e)).length,
      endpointsTotal: endpoints.filter((e) => e.networkId === n.id).length,
    })),
    peers,
    dns: daemon?.dns ?? [],
    mesh: daemon?.mesh ?? null,
    problems,
  };
}

function text(r: StatusReport): string {
  const out: string[] = [];
  const row = (label: string, value: string) => out.push(`${label.padStart(10)}: ${value}`);
  const more = (value: string) => out.push(`${''.padStart(12)}${value}`);
  row('Version', `weft ${r.version}`);
  row('Daemon', r.daemon.running ? `running (pid ${r.daemon.pid}, since ${r.daemon.started})${r.daemon.ready ? ', ready' : ', NOT READY'}` : `not running (${r.daemon.error})`);
  const s = r.store;
  if (s.kind === 'etcd') {
    const m = s.members ?? [];
    row('Store', `etcd ${s.url}: ${s.reachable ? `reachable (${s.ms} ms), ${m.filter((x) => x.reachable).length}/${m.length} members reachable, leader ${s.leader ?? 'none'}` : `UNREACHABLE (${s.error})`}`);
    for (const x of m) more(`${(x.name || '-').padEnd(16)} ${x.url.padEnd(22)} ${x.reachable ? `${x.ms} ms` : 'unreachable'}${x.leader ? ' leader' : ''}`);
  } else row('Store', `embedded ${s.url}`);
  row('Host', `${r.host.name ?? '-'}${r.host.address ? ` ${r.host.address}` : ''}${r.host.lease ? `, lease ${r.host.lease.ttl} s ${r.host.lease.registered ? 'held' : 'LOST'}` : ''}`);
  row('Networks', String(r.networks.length));
  for (const n of r.networks) more(`${n.id.slice(0, 12)}  ${n.mode.padEnd(8)} vni ${String(n.vni ?? '-').padEnd(8)} ${n.encrypted ? 'encrypted ' : ''}endpoints ${n.endpointsHere} here / ${n.endpointsTotal} total`);
  row('Peers', String(r.peers.length));
  for (const p of r.peers) more(`${p.name.padEnd(16)} ${p.address.padEnd(16)} ${p.reachable ? `reachable (${p.ms} ms)` : 'UNREACHABLE'}`);
  row('DNS', r.dns.length ? `${r.dns.length} listener(s)` : 'none');
  for (const l of r.dns) more(`${l.network.slice(0, 12)}  ${l.address}:${l.port}${l.netns ? ` in ${l.netns}` : ''}`);
  row('Mesh', r.mesh ? `${r.mesh.backend ?? `not started (${r.mesh.requested})`}, ${r.mesh.services.length} service(s)` : 'off');
  for (const x of r.mesh?.services ?? []) more(`${x.name} (${x.backends} backends)`);
  row('Problems', r.problems.length ? String(r.problems.length) : 'none');
  for (const p of r.problems) {
    more(`${p.message}`);
    more(`  hint: ${p.hint}`);
  }
  return `${out.join('\n')}\n`;
}

export async function run(args: string[]): Promise<number> {
  const p = parseFlags(flagsOf('status'), args);
  if (p.positionals.length) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(p.positionals[0])}`);
  const timeout = str(p, 'probe-timeout');
  const store = str(p, 'store');
  const control = str(p, 'control');
  const report = await collect({
    stateDir: str(p, 'state-dir') ?? DEFAULTS.stateDir,
    timeoutMs: timeout ? intArg('--probe-timeout', timeout, 50, 60_000) : 1000,
    ...(store ? { store } : {}), ...(control ? { control } : {}),
  });
  const code = report.ok ? 0 : 1;
  // An etcd client still retrying a dead member would keep the process alive: leave once the report is out.
  await new Promise<void>((resolve) => process.stdout.write(bool(p, 'json') ? `${JSON.stringify(report)}\n` : text(report), () => resolve()));
  process.exit(code);
}
