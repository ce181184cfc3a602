/**
 * Lab hosts with weft overlays for the encryption test and benchmark
 * (kernel lab only): each host's overlay is built by encryption-agent.js
 * running inside that host's namespace, through the product's OverlayDriver
 * and OverlaySecurity, from one embedded store holding the key ring. Each
 * host gets one endpoint per network, moved into a sandbox namespace as
 * Docker would, with address SUBNET.(10 + host index).
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { RING_KEY, parseRing } from '../../src/control/overlay-security.js';
import { initialRing, rotateRing } from '../../src/dataplane/encryption-keys.js';
import { type EndpointRecord, type NetworkRecord, macFromAddress, names } from '../../src/cnm/model.js';
import { randomBytes } from 'node:crypto';
import { Lab, type LabHost } from '../support/lab.js';
import { run, sh } from '../support/exec.js';
import type { AgentSpec } from './encryption-agent.js';

const agentJs = join(dirname(fileURLToPath(import.meta.url)), 'encryption-agent.js');

export interface LabNet {
  record: NetworkRecord;
  subnet: string;
  /** Indices of the hosts taking part. */
  hosts: number[];
}

export const net = (id: string, vni: number, subnet: string, encrypted: boolean, hosts: number[]): LabNet => ({
  record: {
    id, mode: 'overlay', mtu: encrypted ? 1424 : 1450, internal: false, ipv6: false,
    ipv4: [{ pool: `${subnet}.0/24`, gateway: `${subnet}.1/24`, aux: {} }], ipv6Subnets: [], options: encrypted ? { encrypted: '' } : {}, vni,
  },
  subnet, hosts,
});

const freshKey = () => ({ key: randomBytes(16).toString('hex'), created: new Date().toISOString() });

export class EncryptionLab {
  /** sandbox namespace per (network id, host index). */
  readonly sandboxes = new Map<string, string>();

  private constructor(readonly lab: Lab, readonly hosts: LabHost[], readonly stateDir: string, readonly nets: LabNet[]) {}

  static async create(hostCount: number, nets: LabNet[]): Promise<EncryptionLab> {
    const lab = await Lab.create();
    const dir = mkdtempSync(join(tmpdir(), 'weft-enclab-'));
    const hosts: LabHost[] = [];
    try {
      for (let i = 0; i < hostCount; i++) hosts.push(await lab.host(`h${i}`));
      const store = await EmbeddedStore.open(dir);
      await store.put(RING_KEY, JSON.stringify(initialRing(freshKey)));
      await store.close();
      const l = new EncryptionLab(lab, hosts, dir, nets);
      for (const i of new Set(nets.flatMap((n) => n.hosts))) {
        const r = await l.runAgent(i);
        if (r.code !== 0) throw new Error(`agent on h${i} failed: ${r.stderr}`);
      }
      for (const n of nets) for (const i of n.hosts) await l.#plugSandbox(n, i);
      return l;
    } catch (err) {
      await lab.destroy();
      rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  instance(i: number): string {
    return `${this.lab.prefix}-${i}`;
  }

  endpoint(n: LabNet, i: number): EndpointRecord {
    const address = `${n.subnet}.${10 + i}/24`;
    const id = `${n.record.id.slice(0, 8)}${i}`.padEnd(64, '0');
    return { id, networkId: n.record.id, address, mac: macFromAddress(address, id), srcName: names.src(id), host: `h${i}` };
  }

  address(n: LabNet, i: number): string {
    return `${n.subnet}.${10 + i}`;
  }

  sandbox(n: LabNet, i: number): string {
    return this.sandboxes.get(`${n.record.id}/${i}`)!;
  }

  /** The overlay namespace weft made for network n on host i. */
  overlayNetns(n: LabNet, i: number): string {
    return names.overlayNetns(n.record.id, this.instance(i));
  }

  spec(i: number): AgentSpec {
    const mine = this.nets.filter((n) => n.hosts.includes(i));
    return {
      stateDir: this.stateDir, instance: this.instance(i), local: this.hosts[i]!.address,
      peers: [...new Set(mine.flatMap((n) => n.hosts))].map((j) => this.hosts[j]!.address),
      networks: mine.map((n) => ({
        record: n.record, endpoint: this.endpoint(n, i),
        remote: n.hosts.filter((j) => j !== i).map((j) => {
          const ep = this.endpoint(n, j);
          return { address: this.address(n, j), mac: ep.mac, vtep: this.hosts[j]!.address };
        }),
      })),
    };
  }

  /** Runs host i's agent to completion (a daemon start: reconcile from the store). */
  runAgent(i: number): Promise<{ code: number; stderr: string }> {
    return run(['nsenter', `--net=/var/run/netns/${this.hosts[i]!.netns}`, process.execPath, agentJs, JSON.stringify(this.spec(i))], { timeoutMs: 180_000 });
  }

  /** Starts host i's agent and returns the process once it is under way (to kill it mid-way). */
  async startAgent(i: number): Promise<ChildProcess> {
    const child = spawn('nsenter', [`--net=/var/run/netns/${this.hosts[i]!.netns}`, process.execPath, agentJs, JSON.stringify(this.spec(i))], { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((r) => child.stdout!.once('data', () => r()));
    return child;
  }

  /** One rotation of the key ring in the store (what the winning daemon writes). */
  async rotate(): Promise<number> {
    const store = await EmbeddedStore.open(this.stateDir);
    try {
      const next = rotateRing(parseRing((await store.get(RING_KEY))!)!, freshKey());
      await store.put(RING_KEY, JSON.stringify(next));
      return Math.max(...next.keys.map((k) => k.tag));
    } finally {
      await store.close();
    }
  }

  /** Docker's part: the endpoint's outer veth moves into a sandbox as eth0 with its address. */
  async #plugSandbox(n: LabNet, i: number): Promise<void> {
    const box = await this.lab.netns(`s${n.record.vni}${i}`);
    const ep = this.endpoint(n, i);
    await sh(['ip', '-n', this.hosts[i]!.netns, 'link', 'set', ep.srcName, 'netns', box]);
    await sh(['ip', '-n', box, 'link', 'set', ep.srcName, 'name', 'eth0']);
    await sh(['ip', '-n', box, 'addr', 'add', ep.address!, 'dev', 'eth0']);
    await sh(['ip', '-n', box, 'link', 'set', 'eth0', 'up']);
    this.sandboxes.set(`${n.record.id}/${i}`, box);
  }

  async destroy(): Promise<void> {
    await this.lab.destroy();
    rmSync(this.stateDir, { recursive: true, force: true });
  }
}
