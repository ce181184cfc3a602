/**
 * The IP module against iproute2: addresses in every textual form weft
 * accepts are given to `ip addr add` in a lab namespace, and `ip -j addr`
 * prints each exactly as weft's formatter does. The one deliberate
 * difference: `ip` reads IPv4 octets with strtoul(…, 0), so "0306.022.0.1"
 * is octal 198.18.0.1 to it; weft (like inet_pton) refuses leading zeros.
 */
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { Lab, rootSkipReason } from '../support/lab.js';
import { json, run, sh } from '../support/exec.js';
import { formatIp, ipVersion, parseIp, parsePrefix } from '../../src/wire/ip.js';

const skip = rootSkipReason();
let lab: Lab;
let ns: string;

before(async () => {
  if (skip) return;
  lab = await Lab.create();
  ns = await lab.netns('ip');
  await sh(['ip', '-n', ns, 'link', 'add', 'd0', 'type', 'bridge']);
});

after(async () => {
  if (skip) return;
  await lab.destroy();
});

const FORMS = [
  '198.18.0.1/24', '198.18.255.254/15', '2001:0DB8:0000:0000:0000:0000:0000:0001/64', 'fd00:0:0:1::1/64',
  '::ffff:198.18.0.9/128', '1:2:3:4:5:6:7:8/128', 'fd00::198.18.1.2/120', 'fd00:1:0:0:1:0:0:1/64', 'fd00:0:0:0:1::/96',
];

test('ip accepts what weft parses and prints what weft formats', { skip }, async () => {
  for (const form of FORMS) {
    const p = parsePrefix(form);
    await sh(['ip', '-n', ns, 'addr', 'add', form, 'dev', 'd0', 'nodad']);
    const [link] = await json<Array<{ addr_info: Array<{ local: string; prefixlen: number }> }>>(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', 'd0']);
    const printed = link!.addr_info.map((a) => a.local);
    assert.ok(printed.includes(formatIp(p.bytes)), `${form}: ip printed ${printed.join(', ')}, weft ${formatIp(p.bytes)}`);
  }
});

test('leading-zero IPv4 octets: ip reads octal, weft refuses', { skip }, async () => {
  assert.equal(ipVersion('0306.022.0.1'), undefined);
  assert.throws(() => parseIp('0306.022.0.1'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  const r = await run(['ip', '-n', ns, 'addr', 'add', '0306.022.0.1/32', 'dev', 'd0']);
  assert.equal(r.code, 0);
  const [link] = await json<Array<{ addr_info: Array<{ local: string }> }>>(['ip', '-n', ns, '-j', 'addr', 'show', 'dev', 'd0']);
  assert.ok(link!.addr_info.some((a) => a.local === '198.18.0.1'), 'ip took 010 as octal');
});
