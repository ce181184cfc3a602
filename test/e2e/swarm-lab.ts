/**
 * A three-node swarm in the lab, shared by the swarm e2e test and
 * bench/swarm: lab hosts h1..h3 on one underlay (198.18.0.1-3), each with
 * its own isolated dockerd; etcd inside the underlay namespace
 * (198.18.0.254:2379); weft's managed plugin built by `npm run plugin`'s
 * script and installed on every node with `docker plugin create/enable`;
 * h1 runs `docker swarm init`, h2 and h3 join as workers.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type DockerDaemon, installManagedPlugin, startDocker, swarmInit, swarmJoin } from '../support/docker.js';
import { type EtcdServer, etcdPairsIn, startEtcd } from '../support/etcd.js';
import { Lab, type LabHost } from '../support/lab.js';
import { sh } from '../support/exec.js';

export const ETCD = '198.18.0.254';
export const PLUGIN = 'weft:dev';
export const repo = fileURLToPath(new URL('../../..', import.meta.url));
export const pluginDir = join(repo, 'dist', 'plugin');

export interface SwarmNode { name: string; host: LabHost; docker: DockerDaemon; id: string }
export interface Task { node: SwarmNode; id: string; ip: string }

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, fn: () => Promise<boolean>, timeoutMs = 90_000, stepMs = 300): Promise<void> {
  const t0 = Date.now();
  let last: unknown;
  for (;;) {
    try {
      if (await fn()) return;
    } catch (err) {
      last = err;
    }
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(stepMs);
  }
}

export class SwarmLab {
  readonly nodes: SwarmNode[] = [];
  ul = '';
  etcd: EtcdServer | undefined;
  private constructor(readonly lab: Lab) {}

  get mgr(): DockerDaemon {
    return this.nodes[0]!.docker;
  }

  /** Builds dist/plugin, then the lab, etcd, three dockerds with the plugin, and the swarm. */
  static async create(opts: { swarmInitArgs?: string[] } = {}): Promise<SwarmLab> {
    execFileSync(process.execPath, [join(repo, 'scripts', 'build-plugin.mjs')], { stdio: 'pipe' });
    const s = new SwarmLab(await Lab.create());
    try {
      const hosts = [await s.lab.host('h1'), await s.lab.host('h2'), await s.lab.host('h3')];
      s.ul = await s.lab.underlay();
      await sh(['ip', '-n', s.ul, 'addr', 'add', `${ETCD}/24`, 'dev', 'ul0']);
      s.etcd = await startEtcd({ netns: s.ul, host: ETCD });
      // In parallel; all settle before a failure is thrown, so destroy() stops every dockerd that started.
      const started = await Promise.allSettled(hosts.map((host) => startDocker({
        netns: host.netns, dns: '198.18.0.53',
        // A swarm node's API comes up after its plugins are restored and the swarm agent started: slow on a busy machine.
        readyTimeoutMs: 120_000,
      })));
      started.forEach((r, i) => { if (r.status === 'fulfilled') s.nodes.push({ name: `h${i + 1}`, host: hosts[i]!, docker: r.value, id: '' }); });
      const failed = started.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) throw failed.reason;
      await Promise.all(s.nodes.map((n, i) => installManagedPlugin(n.docker, pluginDir, PLUGIN, s.pluginEnv(i + 1))));
      const token = await swarmInit(s.mgr, hosts[0]!.address, opts.swarmInitArgs ?? []);
      await Promise.all(s.nodes.slice(1).map((n) => swarmJoin(n.docker, token, n.host.address, hosts[0]!.address)));
      await Promise.all(s.nodes.map(async (n) => { n.id = (await n.docker.docker(['info', '-f', '{{.Swarm.NodeID}}'])).trim(); }));
    } catch (err) {
      await s.destroy();
      throw err;
    }
    return s;
  }

  /** The plugin settings of node n (1-based): etcd, its underlay address, lab-unique namespace names. */
  pluginEnv(n: number): Record<string, string> {
    return {
      WEFT_STORE: `etcd://${ETCD}:2379`, WEFT_LOCAL_ADDRESS: `198.18.0.${n}`, WEFT_HOST_NAME: `h${n}`,
      WEFT_INSTANCE: `${this.lab.prefix}-h${n}`, WEFT_DNS_UPSTREAMS: '198.18.0.53',
      // A reinstall (plugin rm + create + enable) must finish within the lease, or peers drop this node's endpoints.
      WEFT_LEASE_TTL: '30',
    };
  }

  async destroy(): Promise<void> {
    for (const n of this.nodes) await n.docker.stop().catch(() => undefined);
    await this.etcd?.stop().catch(() => undefined);
    await this.lab.destroy();
  }

  etcdPairs(): Promise<Map<string, string>> {
    return etcdPairsIn(this.ul, `http://${ETCD}:2379`);
  }

  async etcdKeys(): Promise<string[]> {
    return [...(await this.etcdPairs()).keys()];
  }

  /** weft's kernel namespaces of this lab still present on the machine. */
  weftNamespaces(): string[] {
    return readdirSync('/var/run/netns').filter((n) => n.startsWith('wf-') && n.includes(this.lab.prefix));
  }

  /** Running containers whose name starts with prefix on one node, with their first IPv4. */
  async tasksOn(node: SwarmNode, prefix: string): Promise<Task[]> {
    const ids = (await node.docker.docker(['ps', '-q', '--filter', `name=${prefix}`])).split('\n').filter(Boolean);
    if (ids.length === 0) return [];
    const out = await node.docker.docker(['inspect', '-f', '{{.Id}} {{range .NetworkSettings.Networks}}{{.IPAddress}} {{end}}', ...ids]);
    return out.split('\n').filter(Boolean).map((l) => l.split(' ')).filter((f) => f[1]).map((f) => ({ node, id: f[0]!, ip: f[1]! }));
  }

  async allTasks(prefix: string): Promise<Task[]> {
    return (await Promise.all(this.nodes.map((n) => this.tasksOn(n, prefix)))).flat();
  }

  async waitReplicas(service: string, n: number, timeoutMs = 90_000): Promise<Task[]> {
    let tasks: Task[] = [];
    await until(`${n} running tasks of ${service}`, async () => {
      tasks = await this.allTasks(`${service}.`);
      return tasks.length === n;
    }, timeoutMs);
    return tasks;
  }
}

/** Failed pings from every task to every other (one exec per task). */
export async function pingFailures(tasks: Task[], waitS = 2): Promise<string[]> {
  const fails: string[] = [];
  await Promise.all(tasks.map(async (t) => {
    const others = tasks.filter((o) => o !== t).map((o) => o.ip).join(' ');
    const r = await t.node.docker.tryDocker(['exec', t.id, 'sh', '-c', `for ip in ${others}; do ping -c1 -W${waitS} $ip >/dev/null 2>&1 || echo $ip; done`]);
    if (r.code !== 0) fails.push(`${t.node.name}:${t.ip}: exec failed`);
    for (const ip of r.stdout.split('\n').filter(Boolean)) fails.push(`${t.node.name}:${t.ip} -> ${ip}`);
  }));
  return fails;
}

/** Addresses a name resolves to through Docker's embedded DNS, from a task. */
export async function resolveIn(node: SwarmNode, ctr: string, name: string): Promise<string[]> {
  const r = await node.docker.tryDocker(['exec', ctr, 'nslookup', name, '127.0.0.11']);
  return [...r.stdout.split(/Name:\s*\S+/).slice(1).join('\n').matchAll(/Address:\s*([0-9.]+)/g)].map((m) => m[1]!).sort();
}
