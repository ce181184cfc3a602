/** The netlink client against the real kernel in a lab namespace. */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { NetlinkClient } from '../../src/netlink/client.js';
import { NETLINK_ROUTE } from '../../src/netlink/constants.js';
import { FamilyNotFoundError, NetlinkError } from '../../src/errors.js';
import { openGenl, resolveFamily } from '../../src/netlink/genl.js';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { RTM_NEWLINK, RTNLGRP_LINK, IFLA_IFNAME, IFLA_LINKINFO, IFLA_INFO_KIND } from '../../src/netlink/rtnetlink/constants.js';
import { decodeLink, writeIfinfomsg } from '../../src/netlink/rtnetlink/link.js';
import { NLM_F_CREATE, NLM_F_EXCL } from '../../src/netlink/constants.js';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, sh } from '../support/exec.js';

const skip = rootSkipReason();
let lab: Lab;
let ns: string;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  ns = await lab.netns('nl');
});
after(async () => lab?.destroy());

test('link dump agrees with ip -j link on names, indexes and kinds', { skip }, async () => {
  await sh(['ip', '-n', ns, 'link', 'add', 'va', 'type', 'veth', 'peer', 'name', 'vb']);
  await sh(['ip', '-n', ns, 'link', 'add', 'br0', 'type', 'bridge']);
  const rtnl = Rtnl.open({ netns: ns });
  try {
    const links = await rtnl.links();
    const oracle = await json<{ ifindex: number; ifname: string; linkinfo?: { info_kind?: string } }[]>(['ip', '-n', ns, '-j', '-d', 'link', 'show']);
    assert.deepEqual(links.map((l) => [l.index, l.name, l.kind]).sort(), oracle.map((o) => [o.ifindex, o.ifname, o.linkinfo?.info_kind]).sort());
    assert.equal((await rtnl.link('br0'))?.kind, 'bridge');
    assert.equal(await rtnl.link('nope0'), undefined);
  } finally {
    rtnl.close();
  }
});

test('a rejected request carries the errno name and the kernel extended-ACK text', { skip }, async () => {
  const client = NetlinkClient.open(NETLINK_ROUTE, { netns: ns });
  try {
    await assert.rejects(client.request({
      type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, what: 'create link lo',
      build: (w) => {
        writeIfinfomsg(w, {});
        w.string(IFLA_IFNAME, 'lo');
        const li = w.nest(IFLA_LINKINFO);
        w.string(IFLA_INFO_KIND, 'bridge');
        w.end(li);
      },
    }), (e: unknown) => e instanceof NetlinkError && e.code === 'ERR_WEFT_NETLINK' && e.errno === 'EEXIST' && e.message.includes('create link lo'));
    await assert.rejects(client.request({
      type: RTM_NEWLINK, flags: NLM_F_CREATE | NLM_F_EXCL, what: 'create vxlan without id',
      build: (w) => {
        writeIfinfomsg(w, {});
        w.string(IFLA_IFNAME, 'vxbad');
        const li = w.nest(IFLA_LINKINFO);
        w.string(IFLA_INFO_KIND, 'vxlan');
        w.end(li);
      },
    }), (e: unknown) => e instanceof NetlinkError && typeof e.extackMessage === 'string' && e.extackMessage.length > 0);
  } finally {
    client.close();
  }
});

test('multicast link events arrive for changes made by another process', { skip }, async () => {
  const client = NetlinkClient.open(NETLINK_ROUTE, { netns: ns, groups: [RTNLGRP_LINK] });
  try {
    const seen = new Promise<string>((resolve) => {
      client.onEvent((m) => {
        if (m.type === RTM_NEWLINK) {
          const l = decodeLink(m);
          if (l.name === 'evbr0') resolve(l.kind ?? '');
        }
      });
    });
    await sh(['ip', '-n', ns, 'link', 'add', 'evbr0', 'type', 'bridge']);
    assert.equal(await seen, 'bridge');
  } finally {
    client.close();
  }
});

test('generic netlink resolves families by name and reports missing ones', { skip }, async () => {
  const client = openGenl({ netns: ns });
  try {
    const ctrl = await resolveFamily(client, 'nlctrl');
    assert.equal(ctrl.id, 0x10);
    assert.ok(ctrl.groups.has('notify'));
    await assert.rejects(resolveFamily(client, 'weftnosuchfam'), FamilyNotFoundError);
  } finally {
    client.close();
  }
});

test('many pipelined requests in one process all settle', { skip }, async () => {
  const rtnl = Rtnl.open({ netns: ns });
  try {
    const results = await Promise.all(Array.from({ length: 200 }, () => rtnl.links()));
    assert.equal(results.length, 200);
    assert.equal(rtnl.client.inFlight, 0);
  } finally {
    rtnl.close();
  }
});
