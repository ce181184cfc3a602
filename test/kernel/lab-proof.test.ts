/**
 * Runs inside the kernel lab (WEFT_KLAB=1): proves the VM's kernel has what the
 * host kernel lacks and the tests need: 802.1Q VLAN sub-interfaces and IPVS.
 * Elsewhere it skips. Started by test/integration/kernel-lab.test.ts.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { json, sh } from '../support/exec.js';
import { Lab } from '../support/lab.js';

const skip = process.env.WEFT_KLAB === '1' ? undefined : 'runs only inside the kernel lab (WEFT_KLAB=1)';

interface IpLink {
  ifname: string;
  link?: string;
  linkinfo?: { info_kind?: string; info_data?: { protocol?: string; id?: number } };
}

let lab: Lab | undefined;
before(async () => {
  if (!skip) lab = await Lab.create();
});
after(async () => {
  await lab?.destroy();
});

test('a VLAN sub-interface on a veth in a netns', { skip }, async () => {
  const ns = await lab!.netns('vlan');
  await sh(['ip', '-n', ns, 'link', 'add', 'vx0', 'type', 'veth', 'peer', 'name', 'vx1']);
  await sh(['ip', '-n', ns, 'link', 'add', 'link', 'vx0', 'name', 'vx0.100', 'type', 'vlan', 'id', '100']);
  for (const dev of ['vx1', 'vx0', 'vx0.100']) await sh(['ip', '-n', ns, 'link', 'set', dev, 'up']);
  const [link] = await json<IpLink[]>(['ip', '-n', ns, '-j', '-d', 'link', 'show', 'dev', 'vx0.100']);
  assert.equal(link?.ifname, 'vx0.100');
  assert.equal(link?.link, 'vx0');
  assert.equal(link?.linkinfo?.info_kind, 'vlan');
  assert.equal(link?.linkinfo?.info_data?.protocol, '802.1Q');
  assert.equal(link?.linkinfo?.info_data?.id, 100);
});

test('an IPVS service with a NAT real server, listed by ipvsadm', { skip }, async () => {
  const ns = await lab!.netns('ipvs');
  const ipvsadm = (...args: string[]) => sh(['ip', 'netns', 'exec', ns, 'ipvsadm', ...args]);
  await ipvsadm('-A', '-t', '198.18.10.1:80', '-s', 'rr');
  await ipvsadm('-a', '-t', '198.18.10.1:80', '-r', '198.18.10.2:80', '-m', '-w', '3');
  const listing = await ipvsadm('-Ln');
  assert.match(listing, /^TCP\s+198\.18\.10\.1:80 rr\s*$/m);
  assert.match(listing, /^\s+->\s+198\.18\.10\.2:80\s+Masq\s+3\s+0\s+0\s*$/m);
  // IPVS state is per network namespace: the VM's root namespace has none of it.
  assert.doesNotMatch(await sh(['ipvsadm', '-Ln']), /198\.18\.10\.1/);
});
