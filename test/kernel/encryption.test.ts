/**
 * Encrypted overlay in Debian's kernel (kernel lab, WEFT_KLAB=1): two lab
 * hosts, each with weft's overlay (src/dataplane/overlay.ts) for an
 * encrypted and a plain network, and weft's OverlaySecurity programming the
 * admission filter and the ESP SAs over NETLINK_XFRM from one shared store.
 * A third host plays the attacker. The underlay is captured on host 2's
 * port with an AF_PACKET socket: the oracle for "only ESP on the wire".
 *
 * The two hosts' security agents run in this process (the VM has no etcd to
 * share a store between daemons); a "restart" is a fresh agent built from
 * the store after the kernel state was flushed, and kill -9 is a child
 * process running an agent, killed mid-way.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { OverlaySecurity, RING_KEY, parseRing } from '../../src/control/overlay-security.js';
import type { NetworkRecord } from '../../src/cnm/model.js';
import { OverlayNetwork, macFromIp } from '../../src/dataplane/overlay.js';
import { overlayFilterCounters } from '../../src/dataplane/nft-overlay.js';
import { ENCRYPTION_REQID } from '../../src/dataplane/encryption-keys.js';
import { PacketSocket, caplen } from '../../src/io/packet-socket.js';
import { Lab, type LabHost } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';

const skip = process.env.WEFT_KLAB === '1' ? undefined : 'runs only inside the kernel lab (WEFT_KLAB=1)';

const ENC_VNI = 4100;
const PLAIN_VNI = 4200;
const MARKER = 'WEFT-PLAINTEXT-MARKER-';
const log = () => undefined;
/** Progress on stderr: a VM run is slow and the reporter prints only at the end. */
const step = (what: string) => process.stderr.write(`# encryption: ${what}\n`);

function record(id: string, vni: number, encrypted: boolean): NetworkRecord {
  return {
    id, mode: 'overlay', mtu: encrypted ? 1424 : 1450, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [],
    options: encrypted ? { encrypted: '' } : {}, vni,
  };
}

/** What crossed host 2's underlay port while `fn` ran. */
async function capture<T>(ns: string, ifname: string, fn: () => Promise<T>): Promise<{ result: T; esp: number; clearEnc: number; clearPlain: number; marker: number }> {
  const [link] = await json<{ ifindex: number }[]>(['ip', '-n', ns, '-j', 'link', 'show', ifname]);
  const sock = PacketSocket.open({ ifindex: link!.ifindex, netns: ns, snaplen: 2048 });
  const seen = { esp: 0, clearEnc: 0, clearPlain: 0, marker: 0 };
  const marker = Buffer.from(MARKER);
  sock.start((b) => {
    for (let i = 0; i < b.count; i++) {
      const f = b.buf.subarray(i * b.slotSize, i * b.slotSize + caplen(b, i));
      if (f.indexOf(marker) >= 0) seen.marker++;
      if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) continue;
      const ihl = (f[14]! & 15) * 4;
      const proto = f[23];
      if (proto === 50) seen.esp++;
      if (proto === 17 && f.length >= 14 + ihl + 16 && f.readUInt16BE(14 + ihl + 2) === 4789) {
        const vni = f.readUIntBE(14 + ihl + 8 + 4, 3);
        if (vni === ENC_VNI) seen.clearEnc++;
        if (vni === PLAIN_VNI) seen.clearPlain++;
      }
    }
  });
  try {
    const result = await fn();
    await new Promise((r) => setTimeout(r, 200));
    return { result, ...seen };
  } finally {
    sock.close();
  }
}

/** A TCP transfer of `bytes` of MARKER from sandbox a to b's addr; resolves with what b received (-1: nothing). */
async function tcpTransfer(a: string, b: string, addr: string, bytes: number): Promise<number> {
  const server = spawn('ip', ['netns', 'exec', b, process.execPath, '-e', `
    const s = require('net').createServer((c) => { let n = 0; c.on('data', (d) => n += d.length); c.on('end', () => { console.log(n); process.exit(0); }); });
    s.listen(5001, '${addr}', () => console.log('ready'));
    setTimeout(() => process.exit(3), 120000);`]);
  let out = '';
  server.stdout.on('data', (d) => (out += d));
  const exited = new Promise((r) => server.once('exit', r));
  // node starts slowly under TCG: wait for the listener (the server gives up by itself).
  while (!out.includes('ready') && server.exitCode === null) await new Promise((r) => setTimeout(r, 50));
  const client = await run(['ip', 'netns', 'exec', a, process.execPath, '-e', `
    const c = require('net').connect(5001, '${addr}', () => { const m = Buffer.from('${MARKER}'.repeat(Math.ceil(${bytes} / ${MARKER.length}))).subarray(0, ${bytes}); c.end(m); });
    c.on('error', (e) => { console.error(e.message); process.exit(1); });`], { timeoutMs: 120_000 });
  if (client.code !== 0) server.kill();
  await exited;
  const got = Number(out.split('\n').filter((l) => /^\d+$/.test(l))[0] ?? -1);
  if (got !== bytes) step(`tcp: got ${got}, client exit ${client.code} ${client.stderr.trim()}`);
  return got;
}

/** Sends one clear-text VXLAN datagram (VNI, inner frame to dstMac) from a host namespace. */
async function forgeVxlan(from: LabHost, to: string, vni: number, dstMac: string): Promise<void> {
  await sh(['ip', 'netns', 'exec', from.netns, process.execPath, '-e', `
    const h = Buffer.alloc(8); h[0] = 8; h.writeUIntBE(${vni}, 4, 3);
    const eth = Buffer.concat([Buffer.from('${dstMac.replaceAll(':', '')}', 'hex'), Buffer.from('020000000666', 'hex'), Buffer.from('0800', 'hex'), Buffer.alloc(46, 0x41)]);
    const s = require('dgram').createSocket('udp4');
    s.send(Buffer.concat([h, eth]), 4789, '${to}', () => s.close());`]);
}

async function rxPackets(ns: string, dev: string): Promise<number> {
  const [l] = await json<{ stats64: { rx: { packets: number } } }[]>(['ip', '-n', ns, '-s', '-j', 'link', 'show', dev]);
  return l!.stats64.rx.packets;
}

async function ping(ns: string, addr: string, count: number, intervalS = 0.2): Promise<{ sent: number; received: number }> {
  const r = await run(['ip', 'netns', 'exec', ns, 'ping', '-c', String(count), '-i', String(intervalS), '-W', '2', addr], { timeoutMs: 300_000 });
  const m = /(\d+) packets transmitted, (\d+) (?:packets )?received/.exec(r.stdout);
  return { sent: Number(m?.[1] ?? 0), received: Number(m?.[2] ?? 0) };
}

test('encrypted overlay: ESP only on the wire, clear text dropped, rotation lossless, survives flush, restart and kill -9', { skip, timeout: 300_000 }, async () => {
  const lab = await Lab.create();
  const dir = mkdtempSync(join(tmpdir(), 'weft-enc-'));
  const store = await EmbeddedStore.open(dir);
  const overlays: OverlayNetwork[] = [];
  const agents: OverlaySecurity[] = [];
  try {
    step('lab');
    const h = [await lab.host('h1'), await lab.host('h2'), await lab.host('h3')];
    const ul = await lab.underlay();
    const agent = (i: number) => {
      const a = new OverlaySecurity(store, { localAddress: h[i]!.address, instance: `e${i}`, netns: h[i]!.netns, storeIsPrivate: true, log });
      agents.push(a);
      return a;
    };
    const sec = [agent(0), agent(1)];
    const enc = record('e0c1'.repeat(16), ENC_VNI, true);
    const plain = record('9a1b'.repeat(16), PLAIN_VNI, false);
    step('security agents');
    for (const [i, s] of sec.entries()) {
      s.start();
      await s.setPeers([h[0]!.address, h[1]!.address]);
      await s.ensureNetwork(enc);
      await s.ensureNetwork(plain);
      assert.ok(i >= 0);
    }
    step('overlays');
    // Sandboxes and overlays: 198.19.10.0/24 encrypted, 198.19.20.0/24 plain.
    const sb: string[][] = [];
    for (const [i] of sec.entries()) {
      const row: string[] = [];
      for (const [n, net, subnet] of [[0, enc, '198.19.10'], [1, plain, '198.19.20']] as const) {
        const ov = await OverlayNetwork.create({
          networkId: net.id, vni: net.vni!, gateway: `${subnet}.1/24`, hostNetns: h[i]!.netns, local: h[i]!.address,
          mtu: net.mtu, prefix: `x-${lab.prefix}-${i}-`,
        });
        overlays.push(ov);
        const box = await lab.netns(`c${i}${n}`);
        await ov.attachEndpoint(box, { address: `${subnet}.${10 + i}/24` });
        const other = `${subnet}.${11 - i}`;
        await ov.addRemotePeer({ ip: other, mac: macFromIp(other), vtep: h[1 - i]!.address });
        row.push(box);
      }
      sb.push(row);
    }
    const [c1e, c1p] = sb[0]!;
    const [c2e] = sb[1]!;

    step('1.');
    // 1. ping and a TCP transfer over the encrypted network; on the underlay only ESP.
    const cap = await capture(ul, 'p2', async () => {
      const p = await ping(c1e!, '198.19.10.11', 5);
      step(`ping ${p.received}/${p.sent}`);
      return { ping: p, tcp: await tcpTransfer(c1e!, c2e!, '198.19.10.11', 1_000_000) };
    });
    assert.equal(cap.result.ping.received, 5, 'encrypted ping');
    if (cap.result.tcp !== 1_000_000) {
      step(await sh(['ip', '-n', h[0]!.netns, '-s', 'xfrm', 'state']));
      step(await sh(['ip', 'netns', 'exec', h[0]!.netns, 'nft', 'list', 'ruleset']));
      step(await sh(['ip', 'netns', 'exec', h[1]!.netns, 'nft', 'list', 'ruleset']));
    }
    assert.equal(cap.result.tcp, 1_000_000, 'TCP transfer complete');
    assert.ok(cap.esp > 100, `ESP packets on the underlay (${cap.esp})`);
    assert.equal(cap.clearEnc, 0, 'no clear VXLAN for the encrypted VNI');
    assert.equal(cap.marker, 0, 'payload bytes never visible on the underlay');
    const states = await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'state']);
    assert.match(states, /rfc4106\(gcm\(aes\)\)/);
    assert.match(states, new RegExp(`reqid ${ENCRYPTION_REQID}`));

    step('2.');
    // 2. The plain network beside it works, in clear VXLAN as designed.
    const capPlain = await capture(ul, 'p2', () => ping(c1p!, '198.19.20.11', 3));
    assert.equal(capPlain.result.received, 3, 'plain ping');
    assert.ok(capPlain.clearPlain >= 3, 'plain VNI in clear VXLAN');

    step('3.');
    // 3. CVE-2023-28840: forged clear VXLAN with the encrypted VNI from a third host is dropped and counted.
    const before = await overlayFilterCounters(h[1]!.netns, sec[1]!.table);
    const rxBefore = await rxPackets(overlays[2]!.netns, 'vxlan0');
    await forgeVxlan(h[2]!, h[1]!.address, ENC_VNI, macFromIp('198.19.10.11'));
    await forgeVxlan(h[2]!, h[1]!.address, PLAIN_VNI, macFromIp('198.19.20.11'));
    const after = await overlayFilterCounters(h[1]!.netns, sec[1]!.table);
    assert.equal(after!.clearOnEncrypted, before!.clearOnEncrypted + 1, 'clear text for the encrypted VNI counted');
    assert.equal(after!.unknownVtep, before!.unknownVtep + 1, 'VXLAN from a non-peer counted');
    assert.equal(await rxPackets(overlays[2]!.netns, 'vxlan0'), rxBefore, 'nothing reached the encrypted overlay');

    step('4.');
    // 4. Key rotation during a continuous ping loses nothing.
    const tagBefore = parseRing((await store.get(RING_KEY))!)!;
    const pinging = ping(c1e!, '198.19.10.11', 60, 0.05);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await sec[0]!.rotate(), true);
    await new Promise((r) => setTimeout(r, 800));
    assert.equal(await sec[1]!.rotate(), true);
    const rotated = await pinging;
    assert.equal(rotated.received, rotated.sent, `no loss across two rotations (${rotated.received}/${rotated.sent})`);
    const ring = parseRing((await store.get(RING_KEY))!)!;
    assert.equal(Math.max(...ring.keys.map((k) => k.tag)), Math.max(...tagBefore.keys.map((k) => k.tag)) + 2);
    assert.equal(ring.keys.length, 3);

    step('5.');
    // 5. Reboot-like flush: SAs and policies gone. Clear egress is dropped, never sent;
    //    a restarted agent rebuilds everything from the store.
    await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'state', 'flush']);
    await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'policy', 'flush']);
    step('flushed');
    const flushed = await capture(ul, 'p2', () => ping(c1e!, '198.19.10.11', 2));
    step(`flushed ping ${flushed.result.received}, clear ${flushed.clearEnc}`);
    assert.equal(flushed.result.received, 0);
    assert.equal(flushed.clearEnc, 0, 'no clear text leaves while the SAs are gone');
    assert.ok((await overlayFilterCounters(h[0]!.netns, sec[0]!.table))!.clearEgress >= 2, 'clear egress counted');
    await sec[0]!.stop();
    step('restarting');
    const restarted = agent(0);
    await restarted.setPeers([h[0]!.address, h[1]!.address]);
    await restarted.ensureNetwork(enc);
    await restarted.ensureNetwork(plain);
    step('restarted');
    const healed = await capture(ul, 'p2', () => ping(c1e!, '198.19.10.11', 3));
    assert.equal(healed.result.received, 3, 'traffic back after the restart');
    assert.equal(healed.clearEnc, 0);
    assert.ok(healed.esp >= 6);

    step('6.');
    // 6. kill -9 of an agent process mid-way; its successor converges, traffic stays encrypted.
    await sec[1]!.stop();
    await sh(['ip', '-n', h[1]!.netns, 'xfrm', 'state', 'flush']);
    await sh(['ip', '-n', h[1]!.netns, 'xfrm', 'policy', 'flush']);
    await store.close();
    const agentArgs = [join(dirname(fileURLToPath(import.meta.url)), 'encryption-agent.js'), dir, h[1]!.netns, h[1]!.address, h[0]!.address, JSON.stringify([enc, plain]), 'e1'];
    const victim = spawn(process.execPath, agentArgs, { stdio: ['ignore', 'pipe', 'ignore'] });
    await new Promise<void>((r) => victim.stdout.once('data', () => r()));
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    const successor = await run([process.execPath, ...agentArgs], { timeoutMs: 120_000 });
    assert.equal(successor.code, 0, successor.stderr);
    const afterKill = await capture(ul, 'p2', () => ping(c1e!, '198.19.10.11', 3));
    assert.equal(afterKill.result.received, 3, 'traffic after kill -9 and restart');
    assert.equal(afterKill.clearEnc, 0);
    assert.equal(afterKill.marker, 0);
  } finally {
    for (const a of agents) await a.stop().catch(() => undefined);
    for (const ov of overlays) await ov.destroy().catch(() => undefined);
    await store.close().catch(() => undefined);
    await lab.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
});
