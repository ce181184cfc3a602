/**
 * The one IP module (src/wire/ip.ts) against glibc: every form in the table
 * is accepted or refused exactly as `inet_pton` does (through python3's
 * socket module, which calls it), and text out is `inet_ntop`'s. Property:
 * parse(format(x)) = x for every address.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import {
  AF_INET, AF_INET6, canonicalIPv6, formatIp, formatIPv4, formatIPv6, ipVersion, ipv4TextToNumber, ipv4ToNumber,
  ipv6Bytes, networkOf, numberToIPv4, parseIp, parsePrefix,
} from '../../src/wire/ip.js';

const V4_FORMS = [
  '0.0.0.0', '255.255.255.255', '198.18.0.1', '1.2.3.4', '01.2.3.4', '1.2.3.04', '00.0.0.0', '1.2.3', '1.2.3.4.5',
  '256.1.1.1', '1.2.3.256', '1..3.4', '.1.2.3', '1.2.3.', ' 1.2.3.4', '1.2.3.4 ', '0x1.2.3.4', '1.2.3.-4', '', '1',
  '999.1.1.1', '1.2.3.4/8', '+1.2.3.4',
];
const V6_FORMS = [
  '::', '::1', '1::', '1::2', 'fe80::1', 'FE80::A', '2001:db8::ff00:42:8329', '2001:0db8:0000:0000:0000:ff00:0042:8329',
  '1:2:3:4:5:6:7:8', '1:2:3:4:5:6:7::', '::2:3:4:5:6:7:8', '1:2:3:4:5:6:7:8::', '::1:2:3:4:5:6:7:8', ':::', '1::2::3',
  ':1::2', '1::2:', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '12345::', 'g::', '::ffff:198.18.0.1', '::198.18.0.1',
  '1:2:3:4:5:6:1.2.3.4', '1:2:3:4:5:6:7:1.2.3.4', '::1.2.3', '::01.2.3.4', '::1.2.3.4:5', 'fe80::1%eth0', '[::1]',
  '::ffff:1.2.3.256', '0:0:0:0:0:0:0:0', '00000::', '1:2:3:4::5:6:7', '::0:1', ' ::1', '::1 ', ':', '1',
];

/** inet_pton's verdict for each form, and inet_ntop's text for the accepted ones. */
function glibc(family: 'AF_INET' | 'AF_INET6', forms: string[]): Array<string | null> {
  const script = [
    'import json, socket, sys',
    `fam = socket.${family}`,
    'out = []',
    'for t in json.load(sys.stdin):',
    '    try: out.append(socket.inet_ntop(fam, socket.inet_pton(fam, t)))',
    '    except (OSError, ValueError): out.append(None)',
    'print(json.dumps(out))',
  ].join('\n');
  return JSON.parse(execFileSync('python3', ['-c', script], { input: JSON.stringify(forms) }).toString()) as Array<string | null>;
}

describe('wire/ip: one address module', () => {
  it('accepts and refuses IPv4 text exactly as inet_pton does', () => {
    const ref = glibc('AF_INET', V4_FORMS);
    V4_FORMS.forEach((form, i) => {
      const ours = ipVersion(form) === 4 ? formatIp(parseIp(form).bytes) : null;
      assert.equal(ours, ref[i], `IPv4 form ${JSON.stringify(form)}`);
    });
  });

  it('accepts and refuses IPv6 text exactly as inet_pton does, and prints inet_ntop text', () => {
    const ref = glibc('AF_INET6', V6_FORMS);
    V6_FORMS.forEach((form, i) => {
      const ours = ipVersion(form) === 6 ? formatIp(parseIp(form).bytes) : null;
      assert.equal(ours, ref[i], `IPv6 form ${JSON.stringify(form)}`);
    });
  });

  it('prints random IPv6 addresses as inet_ntop does (embedded IPv4, zero runs)', () => {
    const arb = fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
    const samples = fc.sample(arb, 400).map((g) => {
      const b = new Uint8Array(16);
      g.forEach((w, i) => { b[i * 2] = w >> 8; b[i * 2 + 1] = w & 0xff; });
      return b;
    });
    const texts = samples.map((b) => formatIPv6(b));
    const ref = glibc('AF_INET6', texts);
    texts.forEach((t, i) => assert.equal(t, ref[i]));
  });

  it('parse(format(x)) = x for every address of either family', () => {
    fc.assert(fc.property(fc.oneof(fc.uint8Array({ minLength: 4, maxLength: 4 }), fc.uint8Array({ minLength: 16, maxLength: 16 })), (raw) => {
      const p = parseIp(formatIp(raw));
      assert.equal(p.family, raw.length === 4 ? AF_INET : AF_INET6);
      assert.deepEqual([...p.bytes], [...raw]);
    }));
  });

  it('parses prefixes strictly and clears host bits on request', () => {
    const p = parsePrefix('198.18.7.9/16');
    assert.equal(p.prefixLength, 16);
    assert.equal(formatIp(networkOf(p)), '198.18.0.0');
    assert.equal(parsePrefix('2001:db8::1').prefixLength, 128);
    assert.equal(formatIp(networkOf(parsePrefix('2001:db8:1:2::1/33'))), '2001:db8::');
    for (const bad of ['198.18.0.0/33', '198.18.0.0/', '198.18.0.0/016', '::/129', '::/-1', '1.2.3/8', 'x/8']) {
      assert.throws(() => parsePrefix(bad), { code: 'ERR_WEFT_INVALID_ARGUMENT' }, bad);
    }
  });

  it('converts IPv4 to and from 32-bit numbers', () => {
    fc.assert(fc.property(fc.integer({ min: 0, max: 0xffffffff }), (n) => {
      assert.equal(ipv4TextToNumber(numberToIPv4(n)), n);
    }));
    assert.equal(ipv4ToNumber(Uint8Array.from([198, 18, 0, 1])), 0xc6120001);
    assert.equal(formatIPv4(Uint8Array.from([0, 198, 18, 0, 1]), 1), '198.18.0.1');
    assert.throws(() => ipv4TextToNumber('1.2.3.04'), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
  });

  it('canonical IPv6 text and errors that name what was parsed', () => {
    assert.equal(canonicalIPv6('2001:DB8:0:0:0:0:0:1'), '2001:db8::1');
    assert.deepEqual([...ipv6Bytes('::1')].slice(14), [0, 1]);
    assert.throws(() => parseIp('1.2.3.999', 'gateway'), /gateway: "1.2.3.999" is not an IP address/);
  });
});
