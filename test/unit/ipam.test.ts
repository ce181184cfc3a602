import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { IpamError } from '../../src/errors.js';
import { Ipam, LOCAL_SPACE } from '../../src/cnm/ipam.js';

function withStore<T>(fn: (store: EmbeddedStore, dir: string) => Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ipam-'));
  const store = EmbeddedStore.open(dir);
  return fn(store, dir).finally(async () => {
    await store.close();
    rmSync(dir, { recursive: true, force: true });
  });
}

const code = (c: string) => (e: unknown) => e instanceof IpamError && e.code === c;

test('explicit pools: gateway first, endpoints next, static, aux, release', () => withStore(async (store) => {
  const ipam = new Ipam(store);
  const pool = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.5.0/24', v6: false });
  assert.equal(pool.pool, '198.18.5.0/24');
  assert.equal(await ipam.requestAddress(pool.id, undefined, { gateway: true }), '198.18.5.1/24');
  assert.equal(await ipam.requestAddress(pool.id, undefined), '198.18.5.2/24');
  assert.equal(await ipam.requestAddress(pool.id, '198.18.5.50'), '198.18.5.50/24');
  await assert.rejects(ipam.requestAddress(pool.id, '198.18.5.50'), code('ERR_WEFT_IPAM_ADDRESS_IN_USE'));
  await assert.rejects(ipam.requestAddress(pool.id, '198.18.6.1'), (e: unknown) => e instanceof IpamError && /198\.18\.5\.0\/24/.test(e.message));
  await assert.rejects(ipam.requestAddress(pool.id, '198.18.5.255'), code('ERR_WEFT_IPAM_INVALID_REQUEST'));
  await ipam.releaseAddress(pool.id, '198.18.5.2');
  await ipam.releaseAddress(pool.id, '198.18.5.99'); // unknown: fine
  // Serial allocation: a released address is not handed out again at once.
  assert.equal(await ipam.requestAddress(pool.id, undefined), '198.18.5.3/24');
}));

test('overlapping subnets and exhausted ranges give errors naming the subnet', () => withStore(async (store) => {
  const ipam = new Ipam(store);
  await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.8.0/24', v6: false });
  await assert.rejects(ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.8.128/25', v6: false }),
    (e: unknown) => e instanceof IpamError && e.code === 'ERR_WEFT_IPAM_POOL_OVERLAP' && e.message.includes('198.18.8.0/24'));
  const small = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.9.0/29', subPool: '198.18.9.4/30', v6: false });
  const got = [await ipam.requestAddress(small.id, undefined), await ipam.requestAddress(small.id, undefined)];
  assert.deepEqual(got.sort(), ['198.18.9.4/29', '198.18.9.5/29']);
  // .6 and .7: .7 is the broadcast of the /29 but the range ends there too.
  assert.equal(await ipam.requestAddress(small.id, undefined), '198.18.9.6/29');
  await assert.rejects(ipam.requestAddress(small.id, undefined), (e: unknown) => e instanceof IpamError && e.code === 'ERR_WEFT_IPAM_NO_ADDRESS' && e.message.includes('198.18.9.0/29'));
  await assert.rejects(ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.10.0/24', subPool: '198.18.11.0/25', v6: false }), code('ERR_WEFT_IPAM_INVALID_REQUEST'));
  await assert.rejects(ipam.requestPool({ space: LOCAL_SPACE, pool: 'nonsense', v6: false }), /invalid CIDR/);
}));

test('dynamic pools are distinct while held; IPv6 works the same way', () => withStore(async (store) => {
  const ipam = new Ipam(store);
  const a = await ipam.requestPool({ space: LOCAL_SPACE, v6: false });
  const b = await ipam.requestPool({ space: LOCAL_SPACE, v6: false });
  assert.notEqual(a.pool, b.pool);
  const v6 = await ipam.requestPool({ space: LOCAL_SPACE, pool: 'fd00:198:18::/64', v6: true });
  assert.equal(await ipam.requestAddress(v6.id, undefined, { gateway: true }), 'fd00:198:18::1/64');
  assert.equal(await ipam.requestAddress(v6.id, 'fd00:198:18::abcd'), 'fd00:198:18::abcd/64');
  await ipam.releasePool(a.id);
  const c = await ipam.requestPool({ space: LOCAL_SPACE, v6: false });
  assert.equal(c.pool, a.pool, 'a released dynamic pool can be reused');
}));

test('state survives reopening, and a torn journal line is ignored', () => withStore(async (store, dir) => {
  const ipam = new Ipam(store);
  const pool = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.12.0/24', v6: false });
  await ipam.requestAddress(pool.id, undefined, { gateway: true });
  await ipam.requestAddress(pool.id, '198.18.12.7');
  await store.close();
  appendFileSync(join(dir, 'state.journal'), '{"k":"ipam/addrs/torn'); // kill -9 mid-write
  const reopened = EmbeddedStore.open(dir);
  try {
    const again = new Ipam(reopened);
    assert.deepEqual((await again.addresses(pool.id)).sort(), ['198.18.12.1', '198.18.12.7']);
    await assert.rejects(again.requestAddress(pool.id, '198.18.12.7'), code('ERR_WEFT_IPAM_ADDRESS_IN_USE'));
  } finally {
    await reopened.close();
  }
}));

test('concurrent allocations never hand out the same address (property)', () => withStore(async (store) => {
  const ipam = new Ipam(store);
  const pool = await ipam.requestPool({ space: LOCAL_SPACE, pool: '198.18.13.0/26', v6: false });
  await fc.assert(fc.asyncProperty(fc.integer({ min: 1, max: 20 }), async (n) => {
    const got = await Promise.all(Array.from({ length: n }, () => ipam.requestAddress(pool.id, undefined)));
    assert.equal(new Set(got).size, got.length);
    for (const a of got) await ipam.releaseAddress(pool.id, a);
  }), { numRuns: 30 });
}));
