/**
 * Encrypted overlay in Debian's kernel (kernel lab, WEFT_KLAB=1): two lab
 * hosts with an encrypted and a plain weft overlay, each host built by the
 * product's OverlayDriver + OverlaySecurity in a process inside that host's
 * namespace (encryption-lab.ts), from one store holding the key ring. A
 * third host plays the attacker. The underlay is captured on host 2's port
 * with an AF_PACKET socket: the oracle for "only ESP on the wire".
 *
 * The VM has no etcd, so the hosts do not run full daemons: a host's
 * process runs to completion (a daemon start: reconcile from the store), and
 * kill -9 kills one mid-way.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { overlayFilterCounters, overlayTableName } from '../../src/dataplane/nft-overlay.js';
import { ENCRYPTION_REQID } from '../../src/dataplane/encryption-keys.js';
import { PacketSocket, caplen } from '../../src/io/packet-socket.js';
import type { LabHost } from '../support/lab.js';
import { EncryptionLab, net } from './encryption-lab.js';
import { json, run, sh } from '../support/exec.js';

const skip = process.env.WEFT_KLAB === '1' ? undefined : 'runs only inside the kernel lab (WEFT_KLAB=1)';

const ENC_VNI = 4100;
const PLAIN_VNI = 4200;
const MARKER = 'WEFT-PLAINTEXT-MARKER-';
/** Progress on stderr: a VM run is slow and the reporter prints only at the end. */
const step = (what: string) => process.stderr.write(`# encryption: ${what}\n`);


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
  step('lab');
  const enc = net('e0c1'.repeat(16), ENC_VNI, '198.19.10', true, [0, 1]);
  const plain = net('9a1b'.repeat(16), PLAIN_VNI, '198.19.20', false, [0, 1]);
  const el = await EncryptionLab.create(3, [enc, plain]);
  try {
    const h = el.hosts;
    const ul = await el.lab.underlay();
    const table = (i: number) => overlayTableName(el.instance(i));
    const [c1e, c2e, c1p] = [el.sandbox(enc, 0), el.sandbox(enc, 1), el.sandbox(plain, 0)];
    const [a2e, a2p] = [el.address(enc, 1), el.address(plain, 1)];

    step('1.');
    // 1. ping and a TCP transfer over the encrypted network; on the underlay only ESP.
    const cap = await capture(ul, 'p2', async () => {
      const p = await ping(c1e, a2e, 5);
      step(`ping ${p.received}/${p.sent}`);
      return { ping: p, tcp: await tcpTransfer(c1e, c2e, a2e, 1_000_000) };
    });
    assert.equal(cap.result.ping.received, 5, 'encrypted ping');
    if (cap.result.tcp !== 1_000_000) {
      step(await sh(['ip', '-n', h[0]!.netns, '-s', 'xfrm', 'state']));
      step(await sh(['ip', 'netns', 'exec', h[0]!.netns, 'nft', 'list', 'ruleset']));
    }
    assert.equal(cap.result.tcp, 1_000_000, 'TCP transfer complete');
    assert.ok(cap.esp > 100, `ESP packets on the underlay (${cap.esp})`);
    assert.equal(cap.clearEnc, 0, 'no clear VXLAN for the encrypted VNI');
    assert.equal(cap.marker, 0, 'payload bytes never visible on the underlay');
    const states = await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'state']);
    assert.match(states, /rfc4106\(gcm\(aes\)\)/);
    assert.match(states, new RegExp(`reqid ${ENCRYPTION_REQID}`));
    // The mark is set in the encrypted network's namespace, never in the host's output path.
    assert.match(await sh(['ip', 'netns', 'exec', el.overlayNetns(enc, 0), 'nft', 'list', 'table', 'bridge', 'weft_encrypt']), /meta mark set 0x00d0c4e3/);
    assert.doesNotMatch(await sh(['ip', 'netns', 'exec', el.overlayNetns(plain, 0), 'nft', 'list', 'ruleset']), /weft_encrypt/);
    assert.doesNotMatch(await sh(['ip', 'netns', 'exec', h[0]!.netns, 'nft', 'list', 'table', 'ip', table(0)]), /mark set/);

    step('2.');
    // 2. The plain network beside it works, in clear VXLAN as designed.
    const capPlain = await capture(ul, 'p2', () => ping(c1p, a2p, 3));
    assert.equal(capPlain.result.received, 3, 'plain ping');
    assert.ok(capPlain.clearPlain >= 3, 'plain VNI in clear VXLAN');

    step('3.');
    // 3. CVE-2023-28840: forged clear VXLAN with the encrypted VNI from a third host is dropped and counted.
    const before = (await overlayFilterCounters(h[1]!.netns, table(1)))!;
    const rxBefore = await rxPackets(el.overlayNetns(enc, 1), 'vxlan0');
    await forgeVxlan(h[2]!, h[1]!.address, ENC_VNI, el.endpoint(enc, 1).mac);
    await forgeVxlan(h[2]!, h[1]!.address, PLAIN_VNI, el.endpoint(plain, 1).mac);
    const after = (await overlayFilterCounters(h[1]!.netns, table(1)))!;
    assert.equal(after.clearOnEncrypted, before.clearOnEncrypted + 1, 'clear text for the encrypted VNI counted');
    assert.equal(after.unknownVtep, before.unknownVtep + 1, 'VXLAN from a non-peer counted');
    assert.equal(await rxPackets(el.overlayNetns(enc, 1), 'vxlan0'), rxBefore, 'nothing reached the encrypted overlay');

    step('4.');
    // 4. Two key rotations during a continuous ping lose nothing and send
    //    nothing in clear. Each host follows the store on its own, one after
    //    the other, as daemons do; each agent run is a daemon start.
    const rotation = await capture(ul, 'p2', async () => {
      const pinging = ping(c1e, a2e, 80, 0.05);
      for (let r = 0; r < 2; r++) {
        await el.rotate();
        for (const i of r === 0 ? [0, 1] : [1, 0]) {
          const a = await el.runAgent(i);
          assert.equal(a.code, 0, a.stderr);
        }
      }
      return pinging;
    });
    const rotated = rotation.result;
    assert.equal(rotation.clearEnc, 0, 'no clear text while keys rotate and hosts restart');
    assert.equal(rotated.received, rotated.sent, `no loss across two rotations (${rotated.received}/${rotated.sent})`);
    const inbound = [...(await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'state'])).matchAll(new RegExp(`src ${h[1]!.address} dst ${h[0]!.address}`, 'g'))];
    assert.equal(inbound.length, 3, 'three inbound SAs (the ring) after rotation');

    step('5.');
    // 5. Reboot-like flush: SAs and policies gone. Clear egress is dropped, never
    //    sent; the next start rebuilds everything from the store.
    await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'state', 'flush']);
    await sh(['ip', '-n', h[0]!.netns, 'xfrm', 'policy', 'flush']);
    const flushed = await capture(ul, 'p2', () => ping(c1e, a2e, 2));
    assert.equal(flushed.result.received, 0);
    assert.equal(flushed.clearEnc, 0, 'no clear text leaves while the SAs are gone');
    assert.ok((await overlayFilterCounters(h[0]!.netns, table(0)))!.clearEgress >= 2, 'clear egress counted');
    assert.equal((await el.runAgent(0)).code, 0);
    const healed = await capture(ul, 'p2', () => ping(c1e, a2e, 3));
    assert.equal(healed.result.received, 3, 'traffic back after the restart');
    assert.equal(healed.clearEnc, 0);
    assert.ok(healed.esp >= 6);

    step('6.');
    // 6. kill -9 of a host's process mid-way (after a flush); its successor converges, traffic stays encrypted.
    await sh(['ip', '-n', h[1]!.netns, 'xfrm', 'state', 'flush']);
    await sh(['ip', '-n', h[1]!.netns, 'xfrm', 'policy', 'flush']);
    const victim = await el.startAgent(1);
    victim.kill('SIGKILL');
    await new Promise((r) => victim.once('exit', r));
    assert.equal((await el.runAgent(1)).code, 0);
    const afterKill = await capture(ul, 'p2', () => ping(c1e, a2e, 3));
    assert.equal(afterKill.result.received, 3, 'traffic after kill -9 and restart');
    assert.equal(afterKill.clearEnc, 0);
    assert.equal(afterKill.marker, 0);
  } finally {
    await el.destroy();
  }
});
