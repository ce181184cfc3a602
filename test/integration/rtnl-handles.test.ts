/**
 * The drivers' long-lived rtnetlink handles (src/cnm/drivers/rtnl-handles.ts)
 * against the kernel in lab namespaces: one handle per namespace shared by
 * concurrent requests without mixing their replies, a namespace deleted (and
 * created again) behind weft's back, forget, close and idle closing.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, sh } from '../support/exec.js';
import { RtnlHandles } from '../../src/cnm/drivers/rtnl-handles.js';
import type { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLinks, deleteLinks } from '../../src/netlink/rtnetlink/link-ops.js';
import { listAddresses, replaceAddress } from '../../src/netlink/rtnetlink/addr.js';
import { NetnsNotFoundError, isErrno } from '../../src/errors.js';
import { AF_INET } from '../../src/netlink/rtnetlink/constants.js';

const skip = rootSkipReason();
let lab: Lab;

before(async () => {
  if (!skip) lab = await Lab.create();
});

after(async () => {
  await lab?.destroy();
});

/** A request on a closed handle. */
const closedHandle = (err: unknown) => isErrno(err, 'EBADF');
const linkNames = async (ns: string) => (await json<{ ifname: string }[]>(['ip', '-n', ns, '-j', 'link'])).map((l) => l.ifname).sort();

test('one handle per namespace, shared by concurrent requests that each get their own reply', { skip }, async () => {
  const ns = await lab.netns('hs');
  const handles = new RtnlHandles();
  try {
    const N = 40;
    await handles.run(ns, (r) => addLinks(r, Array.from({ length: N }, (_, i) => ({ name: `d${i}`, kind: 'bridge' as const, up: true }))));
    const seen = new Set<Rtnl>();
    // Gets, dumps, changes and a bulk delete, all in flight on one socket at once.
    const results = await Promise.all([
      ...Array.from({ length: N }, (_, i) => handles.run(ns, async (r) => {
        seen.add(r);
        return (await r.link(`d${i}`))?.name;
      })),
      ...Array.from({ length: N }, (_, i) => handles.run(ns, async (r) => {
        await replaceAddress(r, { dev: `d${i}`, address: `198.19.${i}.1/24` });
        return (await listAddresses(r, { dev: `d${i}`, family: AF_INET })).map((a) => a.local).join();
      })),
      handles.run(ns, async (r) => (await r.links()).length),
      handles.run(ns, (r) => deleteLinks(r, ['nothere0', 'nothere1'], { ignoreMissing: true }).then(() => 'deleted')),
    ]);
    assert.deepEqual(results.slice(0, N), Array.from({ length: N }, (_, i) => `d${i}`));
    assert.deepEqual(results.slice(N, 2 * N), Array.from({ length: N }, (_, i) => `198.19.${i}.1`));
    assert.equal(results[2 * N], N + 1); // the bridges and lo
    assert.equal(results[2 * N + 1], 'deleted');
    assert.equal(seen.size, 1);
    assert.equal(handles.size, 1);
    const addrs = await json<{ ifname: string; addr_info: { local: string }[] }[]>(['ip', '-n', ns, '-4', '-j', 'addr', 'show']);
    for (let i = 0; i < N; i++) assert.deepEqual(addrs.find((a) => a.ifname === `d${i}`)?.addr_info.map((a) => a.local), [`198.19.${i}.1`]);
  } finally {
    handles.close();
  }
});

test('a namespace deleted and created again under its name behind weft\'s back: the next use works in the new one', { skip }, async () => {
  const ns = await lab.netns('hr');
  const handles = new RtnlHandles();
  try {
    const first = await handles.run(ns, async (r) => {
      await addLinks(r, [{ name: 'old0', kind: 'bridge' }]);
      return r;
    });
    // The open handle pins the old namespace: without the identity check it would keep working there.
    await sh(['ip', 'netns', 'del', ns]);
    await sh(['ip', 'netns', 'add', ns]);
    await sh(['ip', '-n', ns, 'link', 'add', 'new0', 'type', 'bridge']);
    const [second, names] = await handles.run(ns, async (r) => [r, (await r.links()).map((l) => l.name).sort()] as const);
    assert.notEqual(second, first);
    assert.deepEqual(names, ['lo', 'new0']);
    await assert.rejects(first.link('lo'), closedHandle, 'the replaced handle is closed');
    await handles.run(ns, (r) => addLinks(r, [{ name: 'made0', kind: 'bridge' }]));
    assert.deepEqual(await linkNames(ns), ['lo', 'made0', 'new0']);
  } finally {
    handles.close();
  }
});

test('a namespace that is gone fails as a fresh open does; forget and close release handles, even in use', { skip }, async () => {
  const ns = await lab.netns('hg');
  const other = await lab.netns('ho');
  const handles = new RtnlHandles();
  await handles.run(ns, (r) => r.links());
  await handles.run(other, (r) => r.links());
  assert.equal(handles.size, 2);
  await sh(['ip', 'netns', 'del', ns]);
  await assert.rejects(handles.run(ns, (r) => r.links()), NetnsNotFoundError);
  assert.equal(handles.size, 1);

  // Forgotten while a request is in flight: the request completes, then the handle closes.
  let inUse: Rtnl | undefined;
  const pending = handles.run(other, async (r) => {
    inUse = r;
    const links = r.links();
    handles.forget(other);
    return (await links).length;
  });
  assert.equal(await pending, 1);
  assert.equal(handles.size, 0);
  await assert.rejects(inUse!.link('lo'), closedHandle);

  // After close, a use still works, with a handle of its own that is not kept.
  handles.close();
  assert.equal(await handles.run(other, async (r) => (await r.links()).length), 1);
  assert.equal(handles.size, 0);
});

test('a handle unused for the idle period is closed', { skip }, async () => {
  const ns = await lab.netns('hi');
  const handles = new RtnlHandles(50);
  try {
    await handles.run(ns, (r) => r.links());
    assert.equal(handles.size, 1);
    while (handles.size > 0) await new Promise((r) => setTimeout(r, 20));
    // And opens again on the next use.
    assert.equal(await handles.run(ns, async (r) => (await r.links()).length), 1);
  } finally {
    handles.close();
  }
});
