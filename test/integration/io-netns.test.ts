/**
 * Named namespaces made by the addon (io/netns.ts), checked with iproute2:
 * `ip netns add` and weft's createNetns must leave the same thing behind.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { readlinkSync } from 'node:fs';
import { WeftError, errnoOf } from '../../src/errors.js';
import { createNetns, deleteNetns, listNetns, netnsExists, sandboxExists } from '../../src/io/netns.js';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, run } from '../support/exec.js';

const skip = rootSkipReason();
let lab: Lab;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
});
// Lab.destroy also deletes namespaces named `…-<prefix>-…`: whatever a failed test left.
after(async () => lab?.destroy());

const name = (n: string) => `wfio-${lab.prefix}-${n}`;

function causeCode(err: unknown): unknown {
  return errnoOf((err as { cause?: unknown }).cause);
}

test('createNetns: a namespace iproute2 lists, nsfs-mounted, loopback up, isolated; deleteNetns removes it', { skip }, async () => {
  const ns = name('a');
  const before = readlinkSync('/proc/thread-self/ns/net');
  await createNetns(ns);
  assert.equal(readlinkSync('/proc/thread-self/ns/net'), before, 'the calling thread stays in its namespace');
  assert.ok(netnsExists(ns));
  assert.ok(listNetns().includes(ns));
  assert.ok(sandboxExists(`/var/run/netns/${ns}`), 'a mounted nsfs file');
  const listed = await json<{ name: string }[]>(['ip', '-j', 'netns', 'list']);
  assert.ok(listed.some((n) => n.name === ns));
  const [lo] = await json<{ flags: string[]; operstate: string }[]>(['ip', '-n', ns, '-j', 'link', 'show', 'lo']);
  assert.ok(lo!.flags.includes('UP'), `lo flags ${lo!.flags.join(',')}`);
  const links = await json<unknown[]>(['ip', '-n', ns, '-j', 'link', 'show']);
  assert.equal(links.length, 1, 'a fresh namespace holds only lo');
  assert.equal((await run(['ip', '-n', ns, 'link', 'add', 'wfio0', 'type', 'veth', 'peer', 'name', 'wfio1'])).code, 0);
  assert.notEqual((await run(['ip', 'link', 'show', 'wfio0'])).code, 0, 'its links are not ours');

  await assert.rejects(createNetns(ns), (err: unknown) => err instanceof WeftError && err.code === 'ERR_WEFT_NETNS_OPERATION' && causeCode(err) === 'EEXIST');
  assert.ok(sandboxExists(`/var/run/netns/${ns}`), 'a failed second add leaves the first alone');

  await deleteNetns(ns);
  assert.ok(!netnsExists(ns));
  const after = await json<{ name: string }[]>(['ip', '-j', 'netns', 'list']).catch(() => []);
  assert.ok(!after.some((n) => n.name === ns));
  await assert.rejects(deleteNetns(ns), (err: unknown) => err instanceof WeftError && err.code === 'ERR_WEFT_NETNS_OPERATION' && causeCode(err) === 'ENOENT');
  await deleteNetns(ns, { ignoreMissing: true });
});

test('createNetns: several at once get one namespace each', { skip }, async () => {
  const names = ['b', 'c', 'd', 'e'].map(name);
  await Promise.all(names.map((n) => createNetns(n)));
  try {
    const ids = await Promise.all(names.map(async (n) => (await run(['ip', 'netns', 'exec', n, 'readlink', '/proc/self/ns/net'])).stdout.trim()));
    assert.equal(new Set(ids).size, names.length, ids.join(' '));
  } finally {
    await Promise.all(names.map((n) => deleteNetns(n, { ignoreMissing: true })));
  }
  for (const n of names) assert.ok(!netnsExists(n));
});

test('createNetns refuses names that are not plain', { skip }, async () => {
  await assert.rejects(createNetns('../etc'), (err: unknown) => err instanceof WeftError && err.code === 'ERR_WEFT_INVALID_ARGUMENT');
  await assert.rejects(createNetns('/tmp/wfio-ns'), (err: unknown) => err instanceof WeftError && err.code === 'ERR_WEFT_INVALID_ARGUMENT');
  await assert.rejects(deleteNetns('/etc/hostname'), (err: unknown) => err instanceof WeftError && err.code === 'ERR_WEFT_INVALID_ARGUMENT');
});
