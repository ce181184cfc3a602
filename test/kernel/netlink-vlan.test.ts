/**
 * 802.1Q links (the host kernel has no 8021q module, so this runs only in
 * the kernel lab VM: WEFT_KLAB=1), checked against `ip -j -d link`.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { Rtnl } from '../../src/netlink/rtnetlink/handle.js';
import { addLink, deleteLink } from '../../src/netlink/rtnetlink/link-ops.js';
import { ensureLink } from '../../src/dataplane/ensure.js';

const skip = process.env.WEFT_KLAB !== '1' ? 'needs the kernel lab (WEFT_KLAB=1)' : undefined;
const ip = (...a: string[]) => execFileSync('ip', a).toString();

test('vlan: create on a parent, read back, ensure, bad ids refused, delete', { skip }, async () => {
  const ns = `wlvlan${process.pid}`;
  ip('netns', 'add', ns);
  // In the VM /var/run may not point at /run, where ip(8) keeps namespaces.
  const rtnl = Rtnl.open({ netns: `/run/netns/${ns}` });
  try {
    await addLink(rtnl, { name: 'p0', kind: 'veth', veth: { peer: { name: 'p1' } } });
    await addLink(rtnl, { name: 'p0.100', kind: 'vlan', parent: 'p0', vlan: { id: 100 }, mtu: 1400 });
    await addLink(rtnl, { name: 'qinq', kind: 'vlan', parent: 'p1', vlan: { id: 200, protocol: '802.1ad' } });
    const [l] = JSON.parse(ip('-n', ns, '-j', '-d', 'link', 'show', 'p0.100'));
    assert.equal(l.link, 'p0');
    assert.equal(l.mtu, 1400);
    assert.equal(l.linkinfo.info_kind, 'vlan');
    assert.equal(l.linkinfo.info_data.id, 100);
    assert.equal(l.linkinfo.info_data.protocol, '802.1Q');
    const [q] = JSON.parse(ip('-n', ns, '-j', '-d', 'link', 'show', 'qinq'));
    assert.equal(q.linkinfo.info_data.protocol, '802.1ad');
    assert.equal((await ensureLink(rtnl, { name: 'p0.100', kind: 'vlan', parent: 'p0', vlan: { id: 100 }, mtu: 1400 })).action, 'unchanged');
    assert.equal((await ensureLink(rtnl, { name: 'p0.100', kind: 'vlan', parent: 'p0', vlan: { id: 101 } })).action, 'recreated');
    for (const id of [0, 4095, 5000]) {
      await assert.rejects(addLink(rtnl, { name: 'bad', kind: 'vlan', parent: 'p0', vlan: { id } }), (e: any) => e.code === 'ERR_WEFT_LINK_CONFIG' && /vlan id/.test(e.message));
    }
    await assert.rejects(addLink(rtnl, { name: 'bad', kind: 'vlan', parent: 'nope', vlan: { id: 5 } }), (e: any) => e.code === 'ERR_WEFT_LINK_NOT_FOUND');
    await deleteLink(rtnl, 'p0.100');
    assert.ok(!ip('-n', ns, 'link').includes('p0.100'));
  } finally {
    rtnl.close();
    ip('netns', 'del', ns);
  }
});
