/**
 * `weft vtep run --peer ADDR` as the README documents it, against the
 * kernel's VXLAN (issue 13 item 9): lab host A runs the CLI, lab host B a
 * kernel vxlan device whose only entry is the head-end replication entry
 * `bridge fdb append 00:00:00:00:00:00 dev vx0 dst A`. No static MAC or
 * neighbour entries on either side: the kernel's ARP request reaches the
 * TAP, and the TAP's reply (unknown unicast to weft) must be flooded back
 * to the peer, so pings work both ways. `--bum drop` keeps the admission
 * and stops the copies, so the kernel's ARP goes unanswered.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { run, sh } from '../support/exec.js';

const skip = rootSkipReason();
if (skip) console.log(`# skipping vtep-cli-peer: ${skip}`);

const CLI = fileURLToPath(new URL('../../src/cli/main.js', import.meta.url));
const VNI = 4242;

/** Starts `weft vtep run` in A; resolves once its TAP is up, with a stop() giving its --json summary. */
async function vtep(a: LabHost, b: LabHost, extra: string[]): Promise<{ stop(): Promise<Record<string, unknown>> }> {
  const child = spawn(process.execPath, [CLI, 'vtep', '--netns', a.netns, '--json', 'run', '--tap', 'wt0', '--vni', String(VNI),
    '--local', a.address, '--address', '198.19.0.1/24', '--peer', b.address, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout.on('data', (c: Buffer) => (out += c.toString()));
  child.stderr.on('data', (c: Buffer) => (err += c.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  for (let i = 0; i < 200; i++) {
    if (child.exitCode !== null) break;
    if ((await run(['ip', '-n', a.netns, 'link', 'show', 'wt0', 'up'])).stdout.includes('wt0')) {
      return {
        async stop() {
          child.kill('SIGTERM');
          const code = await exited;
          assert.equal(code, 0, err);
          return JSON.parse(out.trim().split('\n').pop()!) as Record<string, unknown>;
        },
      };
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  throw new Error(`weft vtep run did not come up: ${err}`);
}

const ping = (h: LabHost, to: string, count = 2) =>
  run(['ip', 'netns', 'exec', h.netns, 'busybox', 'ping', '-c', String(count), '-W', '2', to], { timeoutMs: 20_000 });

/**
 * A ping, tried up to three times. busybox gives the first reply 2 s (-W), and two CI runs saw the
 * first kernel -> weft ping lose both packets while other tests loaded the host (not reproduced here,
 * with or without CPU hogs; the cause is open). A path that does not work fails all three.
 */
async function pingWorks(h: LabHost, to: string): Promise<Awaited<ReturnType<typeof ping>>> {
  let r = await ping(h, to);
  for (let i = 0; i < 2 && r.code !== 0; i++) r = await ping(h, to);
  return r;
}

test('weft vtep run --peer answers the kernel\'s ARP and floods to the peer; --bum drop does not', { skip, timeout: 120_000 }, async () => {
  const lab = await Lab.create();
  try {
    const a = await lab.host('a');
    const b = await lab.host('b');
    await sh(['ip', '-n', b.netns, '-batch', '-'], {
      input: [
        `link add vx0 type vxlan id ${VNI} dstport 4789 local ${b.address} dev eth0 nolearning`,
        'addr add 198.19.0.2/24 dev vx0',
        'link set vx0 mtu 1450 up',
      ].join('\n') + '\n',
    });
    await sh(['bridge', '-n', b.netns, 'fdb', 'append', '00:00:00:00:00:00', 'dev', 'vx0', 'dst', a.address]);

    const v = await vtep(a, b, []);
    const fromKernel = await pingWorks(b, '198.19.0.1');
    const fromWeft = await pingWorks(a, '198.19.0.2');
    const stats = await v.stop();
    assert.equal(fromKernel.code, 0, `kernel -> weft: ${fromKernel.stdout}${fromKernel.stderr}; VTEP counters ${JSON.stringify(stats.counters)}`);
    assert.equal(fromWeft.code, 0, `weft -> kernel: ${fromWeft.stdout}${fromWeft.stderr}; VTEP counters ${JSON.stringify(stats.counters)}`);
    const counters = stats.counters as Record<string, number>;
    assert.ok(counters.tx_flooded! > 0, `flooded to the peer: ${JSON.stringify(counters)}`);
    assert.deepEqual((stats.fdb as { flood: string[]; peers: string[] }).flood, [b.address]);

    // Fresh neighbour state on B, then admission only.
    await sh(['ip', '-n', b.netns, 'neigh', 'flush', 'dev', 'vx0']);
    const quiet = await vtep(a, b, ['--bum', 'drop']);
    const dropped = await ping(b, '198.19.0.1', 1);
    const qs = await quiet.stop();
    assert.notEqual(dropped.code, 0, 'with --bum drop the TAP\'s reply is not flooded');
    assert.ok((qs.counters as Record<string, number>).no_remote! > 0, `the reply had nowhere to go: ${JSON.stringify(qs.counters)}`);
  } finally {
    await lab.destroy();
  }
});

test('weft vtep --help says what --peer does; --flood is gone', async () => {
  const help = await run([process.execPath, CLI, 'vtep', '--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /--peer ADDR\s+a remote VTEP: admit its datagrams and flood/);
  assert.match(help.stdout, /bridge fdb append 00:00:00:00:00:00/);
  const flood = await run([process.execPath, CLI, 'vtep', 'run', '--tap', 'x', '--vni', '1', '--local', '198.18.0.1', '--flood', '198.18.0.2']);
  assert.equal(flood.code, 2);
  assert.match(flood.stderr, /unknown argument "--flood"/);
});
