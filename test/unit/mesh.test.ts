/** Mesh model and the nftables ruleset builder: pure, no privileges. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { InvalidArgumentError } from '../../src/errors.js';
import { SERVICE_MARK_BASE, assignMarks, parsePublish, validateBackend, validatePeers, validateService, type MeshState } from '../../src/dataplane/mesh-model.js';
import { buildMeshRuleset } from '../../src/dataplane/nft-mesh.js';

test('published ports parse like docker -p', () => {
  assert.deepEqual(parsePublish('8080:80/tcp'), { published: 8080, target: 80, protocol: 'tcp' });
  assert.deepEqual(parsePublish('53/udp'), { published: 53, target: 53, protocol: 'udp' });
  assert.deepEqual(parsePublish('8080:80'), { published: 8080, target: 80, protocol: 'tcp' });
  for (const bad of ['', '0', '70000', '80:0', '80/sctp', 'a:b', '1.2.3.4:80:80', '80:80/tcp/udp']) assert.throws(() => parsePublish(bad), InvalidArgumentError, bad);
});

test('validation rejects bad names, addresses, duplicates', () => {
  const ok = { name: 'web', network: 'ingress', ports: [parsePublish('80')] };
  validateService(ok);
  assert.throws(() => validateService({ ...ok, name: 'a b' }), InvalidArgumentError);
  assert.throws(() => validateService({ ...ok, ports: [] }), InvalidArgumentError);
  assert.throws(() => validateService({ ...ok, ports: [parsePublish('80'), parsePublish('80:81')] }), InvalidArgumentError);
  assert.throws(() => validateService({ ...ok, vip: '1.2.3.256' }), InvalidArgumentError);
  assert.throws(() => validateService({ ...ok, mode: 'dsr' as never }), InvalidArgumentError);
  assert.throws(() => validateBackend({ address: '01.2.3.4' }), InvalidArgumentError);
  assert.throws(() => validateBackend({ address: '1.2.3.4', weight: 1001 }), InvalidArgumentError);
  assert.throws(() => validatePeers(64, []), InvalidArgumentError);
  assert.throws(() => validatePeers(1, [{ index: 2, address: 'x' }]), InvalidArgumentError);
  assert.throws(() => validatePeers(1, [{ index: 2, address: '198.18.0.2' }, { index: 2, address: '198.18.0.3' }]), InvalidArgumentError);
});

test('marks: lowest free, stable for ports that stay', () => {
  const a = assignMarks(new Set([SERVICE_MARK_BASE]), [parsePublish('80'), parsePublish('53/udp')]);
  assert.deepEqual(a, [SERVICE_MARK_BASE + 1, SERVICE_MARK_BASE + 2]);
  const b = assignMarks(new Set([SERVICE_MARK_BASE]), [parsePublish('53/udp'), parsePublish('81')], { ports: [parsePublish('80'), parsePublish('53/udp')], marks: a });
  assert.deepEqual(b, [SERVICE_MARK_BASE + 2, SERVICE_MARK_BASE + 1]);
});

function state(mode: 'masquerade' | 'preserve-source', scheduler: 'rr' | 'wrr' | 'sh' | 'random' = 'rr', backends = [{ address: '198.19.1.2', weight: 1, host: 1 }, { address: '198.19.2.2', weight: 2, host: 2 }]): MeshState {
  return {
    hostIndex: 1,
    peers: [{ index: 1, address: '198.18.0.1' }, { index: 2, address: '198.18.0.2' }],
    services: [{ name: 'web', network: 'n', ports: [parsePublish('8080:80')], mode, scheduler, marks: [SERVICE_MARK_BASE], backends }],
  };
}

const rules = (b: ReturnType<typeof buildMeshRuleset>) => b.nftables.filter((c: any) => c.add?.rule).map((c: any) => c.add.rule);

test('ruleset: one table replaced in one batch, nothing outside it', () => {
  const b = buildMeshRuleset(state('masquerade'));
  assert.deepEqual(b.nftables.slice(0, 3).map((c) => Object.keys(c)[0]), ['add', 'delete', 'add']);
  for (const c of b.nftables) {
    const obj = Object.values(c)[0] as Record<string, any>;
    const inner = Object.values(obj)[0] as Record<string, any>;
    assert.equal(inner.table ?? inner.name, 'weft_mesh');
    assert.equal(inner.family, 'ip');
  }
});

test('ruleset: wrr weights become bucket ranges, rr counts one bucket per backend, sh hashes the source', () => {
  const vmapOf = (s: MeshState) => rules(buildMeshRuleset(s)).find((r: any) => r.comment === 'web 8080/tcp').expr.find((e: any) => e.vmap).vmap;
  const wrr = vmapOf(state('masquerade', 'wrr'));
  assert.equal(wrr.key.numgen.mod, 3);
  assert.deepEqual(wrr.data.set.map((e: any) => e[0]), [0, { range: [1, 2] }]);
  assert.equal(vmapOf(state('masquerade', 'rr')).key.numgen.mod, 2);
  assert.ok(vmapOf(state('masquerade', 'sh')).key.jhash);
  assert.equal(vmapOf(state('masquerade', 'random')).key.numgen.mode, 'random');
  assert.throws(() => buildMeshRuleset({ ...state('masquerade'), services: [{ ...state('masquerade').services[0]!, scheduler: 'lc' }] }), InvalidArgumentError);
});

test('ruleset: masquerade vs source preserving (DSCP tag only towards remote backends, steering for peers)', () => {
  const masq = rules(buildMeshRuleset(state('masquerade')));
  assert.ok(masq.some((r: any) => r.chain === 'postrouting' && r.expr.some((e: any) => 'masquerade' in e)));
  assert.ok(!masq.some((r: any) => r.chain === 'steer'));
  const keep = rules(buildMeshRuleset(state('preserve-source')));
  assert.ok(!keep.some((r: any) => r.chain === 'postrouting'));
  const dscp = (r: any) => r.expr.some((e: any) => e.mangle?.key?.payload?.field === 'dscp');
  const eps = keep.filter((r: any) => r.chain.startsWith('ep-'));
  assert.deepEqual(eps.map(dscp), [false, true]);
  const steer = keep.filter((r: any) => r.chain === 'steer');
  assert.equal(steer.length, 2, 'one rule for peer 2, one for replies');
});

test('ruleset: a service without backends rejects instead of dropping', () => {
  const r = rules(buildMeshRuleset(state('masquerade', 'rr', [])));
  assert.ok(r.some((x: any) => x.chain === 'input' && x.expr.some((e: any) => e.reject?.type === 'tcp reset')));
  assert.ok(!r.some((x: any) => x.chain.startsWith('ep-')));
});
