/** The pure peer bookkeeping: desired peers from records, diffs vs. programmed and vs. kernel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { desiredPeers, diffKernel, diffProgrammed, type HostRecord } from '../../src/control/peer-table.js';
import type { EndpointRecord } from '../../src/cnm/model.js';

const ep = (id: string, host: string, ip: string, mac: string): EndpointRecord => ({ id, networkId: 'n', address: `${ip}/24`, mac, srcName: 'x', host });
const hosts = new Map<string, HostRecord>([
  ['a', { name: 'a', address: '198.18.0.1', started: '' }],
  ['b', { name: 'b', address: '198.18.0.2', started: '' }],
]);

test('desired: remote live hosts only, one entry per IP and MAC', () => {
  const d = desiredPeers([
    ep('1', 'a', '198.19.1.2', '02:42:c6:13:01:02'), // local
    ep('2', 'b', '198.19.1.3', '02:42:c6:13:01:03'),
    ep('3', 'dead', '198.19.1.4', '02:42:c6:13:01:04'), // host not live
    ep('4', 'b', '198.19.1.3', '02:42:c6:13:01:05'), // duplicate IP: first (by id) wins
  ], hosts, { host: 'a', address: '198.18.0.1' });
  assert.deepEqual([...d.keys()], ['2']);
  assert.equal(d.get('2')!.vtep, '198.18.0.2');
});

test('desired: of two records with one IP (a stale one whose address was handed out again), the younger wins', () => {
  const at = (e: EndpointRecord, created: number, joined?: number): EndpointRecord => ({ ...e, created, ...(joined ? { joined } : {}) });
  const stale = at(ep('1', 'b', '198.19.1.3', '02:42:aa:00:00:01'), 1000, 1100);
  const live = at(ep('9', 'b', '198.19.1.3', '02:42:aa:00:00:09'), 5000, 5100);
  for (const order of [[stale, live], [live, stale]]) {
    const d = desiredPeers(order, hosts, { host: 'a' });
    assert.deepEqual([...d.values()].map((p) => [p.endpointId, p.mac]), [['9', '02:42:aa:00:00:09']]);
  }
  // Created before the stale one but joined after it was abandoned: still the live one.
  const rejoined = at(ep('0', 'b', '198.19.1.3', '02:42:aa:00:00:02'), 900, 6000);
  assert.deepEqual([...desiredPeers([stale, rejoined], hosts, { host: 'a' }).keys()], ['0']);
});

test('diffProgrammed: removals keyed by MAC/IP never delete what stays wanted', () => {
  const was = desiredPeers([ep('2', 'b', '198.19.1.3', '02:42:c6:13:01:03'), ep('5', 'b', '198.19.1.9', '02:42:c6:13:01:09')], hosts, { host: 'a' });
  // endpoint 2 replaced by 6 with the same IP and MAC (address reuse); 5 goes away
  const now = desiredPeers([ep('6', 'b', '198.19.1.3', '02:42:c6:13:01:03')], hosts, { host: 'a' });
  const c = diffProgrammed(was, now);
  assert.deepEqual(c.delNeigh, ['198.19.1.9']);
  assert.deepEqual(c.delFdb.map((f) => f.mac), ['02:42:c6:13:01:09']);
  assert.deepEqual(c.put.map((p) => p.endpointId), ['6']);
  assert.deepEqual(diffProgrammed(now, now), { delFdb: [], delNeigh: [], put: [] });
});

test('diffKernel: stale and wrong entries fixed, matching ones left alone', () => {
  const want = desiredPeers([ep('2', 'b', '198.19.1.3', '02:42:c6:13:01:03'), ep('7', 'b', '198.19.1.7', '02:42:c6:13:01:07')], hosts, { host: 'a' });
  const c = diffKernel({
    fdb: new Map([['02:42:c6:13:01:03', '198.18.0.2'], ['02:42:c6:13:01:07', '198.18.0.9'], ['02:42:c6:13:01:99', '198.18.0.2']]),
    neigh: new Map([['198.19.1.3', '02:42:c6:13:01:03'], ['198.19.1.99', '02:42:c6:13:01:99']]),
  }, want);
  assert.deepEqual(c.delFdb, [{ mac: '02:42:c6:13:01:99', vtep: '198.18.0.2' }]);
  assert.deepEqual(c.delNeigh, ['198.19.1.99']);
  assert.deepEqual(c.put.map((p) => p.endpointId), ['7']);
});
