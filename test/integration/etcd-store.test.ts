/**
 * EtcdStore against a real etcd (Debian's 3.4) on loopback: the KvStore
 * contract, atomic create() under contention from several clients, watches
 * (events, resync on reconnect after a crash-restart), leased keys (expiry,
 * revoke, re-grant after an outage longer than the TTL), and a frozen etcd
 * failing calls with StoreUnavailableError instead of hanging them.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { EtcdStore, parseEtcdUrl } from '../../src/control/etcd-store.js';
import { StoreUnavailableError } from '../../src/errors.js';
import { type WatchEvent } from '../../src/control/store.js';
import { type EtcdServer, etcdSkipReason, startEtcd } from '../support/etcd.js';

const skip = await etcdSkipReason();
let etcd: EtcdServer;
let url: string;
const stores: EtcdStore[] = [];

before(async () => {
  if (skip) return;
  etcd = await startEtcd();
  url = etcd.endpoints[0]!.replace('http://', 'etcd://');
});

after(async () => {
  for (const s of stores) await s.close().catch(() => undefined);
  await etcd?.stop();
});

async function open(): Promise<EtcdStore> {
  const s = await EtcdStore.connect(url);
  stores.push(s);
  return s;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until(what: string, fn: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

test('URL parsing: plain, list, auth; bad forms are ERR_WEFT_INVALID_ARGUMENT', () => {
  assert.deepEqual(parseEtcdUrl('etcd://127.0.0.1:2379').hosts, ['http://127.0.0.1:2379']);
  assert.deepEqual(parseEtcdUrl('etcds://a:1,b:2').hosts, ['https://a:1', 'https://b:2']);
  assert.deepEqual(parseEtcdUrl('etcd://u@h:1').auth, { username: 'u', password: process.env.WEFT_ETCD_PASSWORD ?? '' });
  // A password on the command line is visible to every user (ps): refused, and not echoed.
  assert.throws(() => parseEtcdUrl('etcd://u:s3cret@h:1'), (e: Error & { code?: string }) => e.code === 'ERR_WEFT_INVALID_ARGUMENT' && !e.message.includes('s3cret'));
  for (const bad of ['http://h:1', 'etcd://', 'etcd://h', 'etcd://h:99999', 'etcd://h:1/x/y']) {
    assert.throws(() => parseEtcdUrl(bad), (e: Error & { code?: string }) => e.code === 'ERR_WEFT_INVALID_ARGUMENT', bad);
  }
});

test('connect to nothing: StoreUnavailableError', { skip }, async () => {
  await assert.rejects(EtcdStore.connect('etcd://127.0.0.1:1'), StoreUnavailableError);
});

test('KvStore contract: get/put/list/create/delete under the weft/ prefix', { skip }, async () => {
  const s = await open();
  assert.equal(await s.get('t1/missing'), undefined);
  await s.put('t1/a', '1');
  await s.put('t1/b', '2');
  await s.put('t1x/c', '3');
  assert.equal(await s.get('t1/a'), '1');
  assert.deepEqual(await s.list('t1/'), new Map([['t1/a', '1'], ['t1/b', '2']]));
  assert.equal(await s.create('t1/a', 'again'), false);
  assert.equal(await s.get('t1/a'), '1');
  assert.equal(await s.create('t1/new', 'n'), true);
  await s.delete('t1/a');
  await s.delete('t1/a'); // missing is fine
  assert.equal(await s.get('t1/a'), undefined);
  assert.equal(await s.client.get('weft/t1/new').string(), 'n', 'keys live under weft/');
});

test('create() is atomic across clients: 3 clients × 50 racing creates, one winner per key', { skip }, async () => {
  const clients = await Promise.all([open(), open(), open()]);
  const wins = await Promise.all(clients.map(async (c, i) => {
    const mine: number[] = [];
    await Promise.all(Array.from({ length: 50 }, async (_, k) => {
      if (await c.create(`t2/k${k % 10}`, String(i))) mine.push(k % 10);
    }));
    return mine;
  }));
  const all = wins.flat().sort((a, b) => a - b);
  assert.deepEqual(all, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9], 'each of 10 keys created exactly once');
});

test('watch: put/delete events, resync hook on connect', { skip }, async () => {
  const s = await open();
  const events: WatchEvent[] = [];
  let resyncs = 0;
  const cancel = s.watch('t3/', (e) => events.push(e), () => resyncs++);
  await until('first resync', () => resyncs >= 1);
  await s.put('t3/x', 'v');
  await s.delete('t3/x');
  await s.put('t3b/other', 'ignored');
  await until('two events', () => events.length >= 2);
  assert.deepEqual(events, [{ type: 'put', key: 't3/x', value: 'v' }, { type: 'delete', key: 't3/x' }]);
  cancel();
});

test('leased keys: close() lets them expire after the TTL; close({revoke}) removes them at once', { skip }, async () => {
  const s = await open();
  const a = s.leasedKeys(2);
  await a.put('t4/a', 'alive');
  assert.equal(await s.get('t4/a'), 'alive');
  await sleep(3000);
  assert.equal(await s.get('t4/a'), 'alive', 'keepalives hold the key past its TTL');
  await a.close();
  await until('expiry', async () => (await s.get('t4/a')) === undefined, 8000);
  const b = s.leasedKeys(30);
  await b.put('t4/b', 'x');
  await b.close({ revoke: true });
  assert.equal(await s.get('t4/b'), undefined);
  assert.throws(() => s.leasedKeys(1), /TTL/);
});

test('closing the store stops the leases it handed out: no re-grant retries on the closed client, the key expires', { skip }, async () => {
  const s = await EtcdStore.connect(url);
  const events: string[] = [];
  const lk = s.leasedKeys(2, (e) => events.push(e.type));
  await lk.put('t7/k', 'v');
  const seen = events.length;
  await s.close();
  await sleep(3000);
  assert.deepEqual(events.slice(seen), [], 'nothing happens to a lease once its store is closed');
  const other = await open();
  await until('the key expires with its lease', async () => (await other.get('t7/k')) === undefined, 8000);
});

test('frozen etcd: calls fail with StoreUnavailableError within seconds; after resume they work and a lost lease is re-granted', { skip }, async () => {
  const s = await open();
  const events: string[] = [];
  const lk = s.leasedKeys(2, (e) => events.push(e.type));
  await lk.put('t5/host', 'me');
  etcd.pause();
  try {
    const t0 = Date.now();
    await assert.rejects(s.get('t5/host'), StoreUnavailableError);
    assert.ok(Date.now() - t0 < 15_000, `failed after ${Date.now() - t0} ms`);
    await sleep(5000); // longer than the TTL: etcd will expire the lease once it runs again
  } finally {
    etcd.resume();
  }
  await until('key rewritten under a new lease', async () => (await s.get('t5/host').catch(() => undefined)) === 'me' && events.includes('granted'), 20_000);
  await sleep(3000);
  assert.equal(await s.get('t5/host'), 'me', 'the key stays (kept alive by the new lease)');
  await lk.close({ revoke: true });
});

test('etcd crash + restart: the watch reconnects, calls resync, and delivers later events', { skip }, async () => {
  const s = await open();
  const events: WatchEvent[] = [];
  let resyncs = 0;
  const cancel = s.watch('t6/', (e) => events.push(e), () => resyncs++);
  await until('first resync', () => resyncs >= 1);
  const before = resyncs;
  await etcd.kill();
  await sleep(1000);
  await etcd.restart();
  const writer = await open();
  await writer.put('t6/after', 'yes');
  await until('event after restart', () => events.some((e) => e.key === 't6/after'), 20_000);
  await until('resync after reconnect', () => resyncs > before, 20_000);
  cancel();
});
