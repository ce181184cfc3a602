/**
 * Overlay encryption, pure parts: XFRM requests byte for byte against what
 * `ip xfrm` sends (test/fixtures/xfrm, made by capture.sh), SPI derivation,
 * and the rotation rule: at no point of any interleaving of two hosts'
 * rotations is a packet sent with an active key rejected.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import { AttrWriter } from '../../src/netlink/attrs.js';
import { beginMessage, finishMessage, parseMessages } from '../../src/netlink/message.js';
import { NLM_F_ACK, NLM_F_REQUEST } from '../../src/netlink/constants.js';
import {
  IPPROTO_UDP, XFRM_MSG_DELPOLICY, XFRM_MSG_DELSA, XFRM_MSG_NEWPOLICY, XFRM_MSG_NEWSA, XFRM_MSG_UPDPOLICY, XFRM_POLICY_OUT,
} from '../../src/netlink/xfrm/constants.js';
import { decodePolicy, decodeState, encodeNewState, encodePolicy, encodePolicyId, encodeStateId } from '../../src/netlink/xfrm/messages.js';
import {
  ENCRYPTION_REQID, type InstalledSas, type KeyRing, applySaOp, deriveSpi, initialRing, keyMaterial, pairSas, planSas, primaryKey, rotateRing,
} from '../../src/dataplane/encryption-keys.js';
import { EncryptionUnavailableError } from '../../src/errors.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { OverlaySecurity, RING_KEY, parseRing, ringStatus } from '../../src/control/overlay-security.js';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'test', 'fixtures', 'xfrm');
const load = (name: string) => Buffer.from(readFileSync(join(fixtures, name), 'utf8').trim(), 'hex');

function request(type: number, seq: number, build: (w: AttrWriter) => void): Buffer {
  const w = new AttrWriter();
  const at = beginMessage(w, type, NLM_F_REQUEST | NLM_F_ACK);
  build(w);
  finishMessage(w, at, seq);
  return w.finish();
}

const A = '198.18.0.1';
const B = '198.18.0.2';
const SPI = 0x8a3b19c2;
const KEY = Buffer.from('000102030405060708090a0b0c0d0e0f8a3b19c2', 'hex');
const policy = {
  selector: { src: A, dst: B, proto: IPPROTO_UDP, dport: 4789 }, dir: XFRM_POLICY_OUT, mark: { value: 0xd0c4e3, mask: 0xffffffff },
  tmpl: { src: A, dst: B, spi: SPI, reqid: ENCRYPTION_REQID },
};

test('XFRM requests are byte for byte what ip xfrm sends', () => {
  const cases: [string, number, (w: AttrWriter) => void][] = [
    ['state-add.hex', XFRM_MSG_NEWSA, (w) => encodeNewState(w, { src: A, dst: B, spi: SPI, reqid: ENCRYPTION_REQID, aead: 'rfc4106(gcm(aes))', key: KEY, icvBits: 64 })],
    ['state-delete.hex', XFRM_MSG_DELSA, (w) => encodeStateId(w, { src: A, dst: B, spi: SPI })],
    ['policy-add.hex', XFRM_MSG_NEWPOLICY, (w) => encodePolicy(w, policy)],
    ['policy-update.hex', XFRM_MSG_UPDPOLICY, (w) => encodePolicy(w, policy)],
    ['policy-delete.hex', XFRM_MSG_DELPOLICY, (w) => encodePolicyId(w, policy)],
  ];
  for (const [file, type, build] of cases) {
    const want = load(file);
    const got = request(type, want.readUInt32LE(8), build);
    assert.equal(got.toString('hex'), want.toString('hex'), file);
  }
});

test('dump decoders read back what the encoders wrote', () => {
  const st = parseMessages(load('state-add.hex'))[0]!;
  assert.deepEqual(decodeState(st.payload), { src: A, dst: B, spi: SPI, proto: 50, reqid: ENCRYPTION_REQID, mode: 0 });
  const pol = decodePolicy(parseMessages(load('policy-add.hex'))[0]!.payload);
  assert.deepEqual(pol.selector, { src: A, dst: B, srcPrefix: 32, dstPrefix: 32, proto: 17, dport: 4789 });
  assert.deepEqual(pol.mark, { value: 0xd0c4e3, mask: 0xffffffff });
  assert.deepEqual(pol.tmpls, [{ src: A, dst: B, spi: SPI, reqid: ENCRYPTION_REQID, proto: 50 }]);
  assert.throws(() => decodeState(Buffer.alloc(10)), { code: 'ERR_WEFT_NETLINK_DECODE' });
});

/** FNV-1a 32 written out independently (BigInt) over Docker's buildSPI input. */
function fnvReference(src: string, dst: string, tag: number): number {
  const mapped = (ip: string) => [...Array(10).fill(0), 0xff, 0xff, ...ip.split('.').map(Number)];
  let h = 0x811c9dc5n;
  for (const b of [...mapped(src), (tag >>> 24) & 255, (tag >>> 16) & 255, (tag >>> 8) & 255, tag & 255, ...mapped(dst)]) {
    h ^= BigInt(b);
    h = (h * 0x01000193n) & 0xffffffffn;
  }
  return Number(h);
}

test('SPIs: FNV-1a over (src, tag, dst), distinct per direction and per key', () => {
  fc.assert(fc.property(fc.ipV4(), fc.ipV4(), fc.integer({ min: 0, max: 0xffffffff }), (s, d, tag) => {
    const spi = deriveSpi(s, d, tag);
    const ref = fnvReference(s, d, tag);
    assert.equal(spi, ref < 256 ? ref + 256 : ref);
  }));
  assert.notEqual(deriveSpi(A, B, 1), deriveSpi(B, A, 1));
  assert.notEqual(deriveSpi(A, B, 1), deriveSpi(A, B, 2));
  assert.equal(keyMaterial({ tag: 1, key: '00'.repeat(16), created: '' }, 0x01020304).toString('hex'), '00'.repeat(16) + '01020304');
});

const mkKey = (i: number) => ({ key: i.toString(16).padStart(32, '0'), created: `t${i}` });

test('ring: primary is the second newest, a new key is received one period before it is sent', () => {
  let ring = initialRing(() => mkKey(0));
  assert.deepEqual(ring.keys.map((k) => k.tag), [1, 2]);
  assert.equal(primaryKey(ring)!.tag, 1);
  ring = rotateRing(ring, mkKey(3));
  ring = rotateRing(ring, mkKey(4));
  assert.deepEqual(ring.keys.map((k) => k.tag), [2, 3, 4]);
  assert.equal(primaryKey(ring)!.tag, 3);
  assert.deepEqual(pairSas(A, B, ring)!.inbound.map((i) => i.tag), [2, 3, 4]);
});

/**
 * Hosts H0..Hn-1 start converged on ring r; rings then advance (each host
 * at most one rotation ahead of the slowest), and the hosts apply their
 * plans one operation at a time in an arbitrary interleaving. After every
 * operation: whatever SPI a host's policy sends with towards a peer, the
 * sender holds that outbound SA and the peer holds the inbound SA.
 */
test('rotation: no interleaving of plan steps ever rejects a packet sent with an active key', () => {
  const addrs = ['198.18.0.1', '198.18.0.2', '198.18.0.3'];
  fc.assert(fc.property(fc.integer({ min: 2, max: 3 }), fc.integer({ min: 1, max: 4 }), fc.array(fc.nat(), { minLength: 200, maxLength: 200 }), (n, rotations, picks) => {
    const hosts = addrs.slice(0, n);
    const rings: KeyRing[] = [initialRing(() => mkKey(0))];
    for (let r = 0; r < rotations; r++) rings.push(rotateRing(rings.at(-1)!, mkKey(r + 10)));
    const state = hosts.map(() => ({ installed: { states: [], policies: new Map() } as InstalledSas, version: 0, queue: [] as ReturnType<typeof planSas> }));
    for (const [i, h] of hosts.entries()) for (const op of planSas(h, hosts, rings[0]!, state[i]!.installed)) applySaOp(state[i]!.installed, op);
    let p = 0;
    const check = () => {
      for (const [i, h] of hosts.entries()) {
        for (const [j, peer] of hosts.entries()) {
          if (i === j) continue;
          const spi = state[i]!.installed.policies.get(peer);
          assert.ok(spi !== undefined, `${h} has no policy to ${peer}`);
          assert.ok(state[i]!.installed.states.some((s) => s.src === h && s.dst === peer && s.spi === spi), `${h} lacks its outbound SA`);
          assert.ok(state[j]!.installed.states.some((s) => s.src === h && s.dst === peer && s.spi === spi), `${peer} would reject ${h}'s SPI`);
        }
      }
    };
    while (true) {
      // A host starts rotation v+1 once every host has finished v (the real
      // schedule gives a whole period for that); plans then interleave freely.
      const finished = (o: (typeof state)[number], v: number) => o.version > v || (o.version === v && o.queue.length === 0);
      const movable = state.map((_, i) => i).filter((i) => state[i]!.queue.length > 0
        || (state[i]!.version < rotations && state.every((o) => finished(o, state[i]!.version))));
      if (movable.length === 0) break;
      const i = movable[(picks[p++ % picks.length] ?? 0) % movable.length]!;
      const s = state[i]!;
      if (s.queue.length === 0) {
        s.version++;
        s.queue = planSas(hosts[i]!, hosts, rings[s.version]!, s.installed);
      } else {
        applySaOp(s.installed, s.queue.shift()!);
        check();
      }
    }
    check();
  }), { numRuns: 300 });
});

test('overlay security: refuses a plain-text store, fails closed on a kernel without ESP, keys stay in a 0600 file', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-enc-unit-'));
  const store = await EmbeddedStore.open(dir);
  const logs: string[] = [];
  const log = (r: Record<string, unknown>) => logs.push(JSON.stringify(r));
  const n = { id: 'e0'.repeat(32), mode: 'overlay' as const, mtu: 1424, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [], options: { encrypted: '' }, vni: 4100 };
  try {
    const open = new OverlaySecurity(store, { storeIsPrivate: false, log });
    await assert.rejects(open.ensureNetwork(n), { code: 'ERR_WEFT_INSECURE_STORE' });
    const noEsp = new OverlaySecurity(store, { storeIsPrivate: true, log, probe: async () => { throw new EncryptionUnavailableError('no esp4'); } });
    await assert.rejects(noEsp.ensureNetwork(n), { code: 'ERR_WEFT_ENCRYPTION_UNAVAILABLE' });
    assert.equal(await store.get(RING_KEY), undefined, 'no key made for a network that cannot exist');
    await store.put(RING_KEY, JSON.stringify(initialRing(() => mkKey(7))));
    const ring = parseRing((await store.get(RING_KEY))!)!;
    const status = ringStatus(ring, Date.now());
    assert.equal(status.keyTag, '1');
    assert.ok(!JSON.stringify(status).includes(ring.keys[0]!.key), 'status carries no key bytes');
    assert.equal(statSync(join(dir, 'state.journal')).mode & 0o777, 0o600);
    assert.ok(logs.every((l) => !l.includes(ring.keys[0]!.key)));
  } finally {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test('weft network inspect: encrypted, key tag and primary key age; never key bytes', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-enc-cli-'));
  try {
    const store = await EmbeddedStore.open(dir);
    const n = { id: 'e0'.repeat(32), mode: 'overlay', mtu: 1424, internal: false, ipv6: false, ipv4: [], ipv6Subnets: [], options: { encrypted: '' }, vni: 4100 };
    await store.put(`networks/${n.id}`, JSON.stringify(n));
    await store.put(`networks/${'0a'.repeat(32)}`, JSON.stringify({ ...n, id: '0a'.repeat(32), options: {}, vni: 4101 }));
    const ring = initialRing(() => ({ key: 'ab'.repeat(16), created: new Date(Date.now() - 3600_000).toISOString() }));
    await store.put(RING_KEY, JSON.stringify(ring));
    await store.close();
    const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');
    const inspect = (id: string) => execFileSync(process.execPath, [cli, 'network', 'inspect', id, '--state-dir', dir, '--json']).toString();
    const out = inspect('e0e0');
    const enc = (JSON.parse(out) as { encryption: { encrypted: boolean; keyTag: string; primaryKeyAgeSeconds: number } }).encryption;
    assert.equal(enc.encrypted, true);
    assert.equal(enc.keyTag, '1');
    assert.ok(enc.primaryKeyAgeSeconds >= 3599 && enc.primaryKeyAgeSeconds < 3700);
    assert.ok(!out.includes('ab'.repeat(16)), 'no key bytes in inspect');
    assert.deepEqual((JSON.parse(inspect('0a0a')) as { encryption: unknown }).encryption, { encrypted: false });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
