/**
 * The clients that rejected weft's answers (issue 13 item 8) ask qualified
 * names, `web.net`, the way the daemon serves them: records filed under a
 * network ID, the network's name as its domain. glibc's `getent ahosts`
 * runs in a lab namespace with a private mount namespace whose
 * /etc/resolv.conf and /etc/nsswitch.conf are bind mounts of files the test
 * wrote (the host's own files are never touched); dnspython (Debian's
 * python3-dnspython) checks owner names strictly; busybox nslookup and dig
 * see the qualified name rotate.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Lab, rootSkipReason, type LabHost } from '../support/lab.js';
import { have, run } from '../support/exec.js';
import { DnsService, endpointRecords, serviceRecords } from '../../src/dns/index.js';

const NETWORK_ID = 'c0ffee5e1f0a4b2d9e8f7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d';
const DNSPYTHON = '/usr/bin/python3';

const skip = rootSkipReason() ?? ((await have('unshare')) ? undefined : 'unshare not installed (util-linux)');
if (skip) console.log(`# skipping dns-clients: ${skip}`);
const noDnspython = (await run([DNSPYTHON, '-c', 'import dns.resolver'])).code === 0 ? false : 'python3-dnspython not installed (scripts/test-deps.sh)';
if (!skip && noDnspython) console.log(`# skipping dnspython cases: ${noDnspython}`);

describe('glibc, dnspython, busybox and dig resolve qualified names', { skip }, () => {
  let lab: Lab;
  let srv: LabHost;
  let c1: LabHost;
  let dns: DnsService | undefined;
  let dir = '';

  before(async () => {
    lab = await Lab.create();
    srv = await lab.host('srv');
    c1 = await lab.host('c1');
    dns = new DnsService({ upstreams: [], rateLimit: null });
    for (const r of endpointRecords({ network: NETWORK_ID, name: 'web', aliases: ['www'], ipv4: '198.19.60.2', ipv6: 'fd00:60::2' })) dns.addRecord(r);
    for (const r of serviceRecords({ network: NETWORK_ID, name: 'rr', tasks: ['198.19.60.10', '198.19.60.11', '198.19.60.12'] })) dns.addRecord(r);
    dns.addRecord({ network: NETWORK_ID, name: 'alias', type: 'CNAME', target: 'web' });
    dns.addRecord({ network: NETWORK_ID, name: 'web', type: 'TXT', text: ['hello'] });
    dns.addRecord({ network: NETWORK_ID, name: '_http._tcp.web', type: 'SRV', priority: 1, weight: 5, port: 80, target: 'web' });
    dns.resolver.setDomain(NETWORK_ID, 'net');
    await dns.listen({ netns: srv.netns, address: srv.address, networks: [{ name: NETWORK_ID, clients: [`${c1.address}/32`] }] });
    dir = mkdtempSync(join(tmpdir(), 'weft-dnsclients-'));
    writeFileSync(join(dir, 'resolv.conf'), `nameserver ${srv.address}\noptions timeout:2 attempts:2\n`);
    writeFileSync(join(dir, 'nsswitch.conf'), 'hosts: dns\n');
  });

  after(async () => {
    await dns?.close();
    await lab?.destroy();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** glibc's getent in c1's network namespace, with our resolv.conf and nsswitch.conf in a private mount namespace. */
  const getent = (...args: string[]) => run(['ip', 'netns', 'exec', c1.netns, 'unshare', '--mount', '--propagation', 'private', 'sh', '-c',
    `mount --bind ${dir}/resolv.conf /etc/resolv.conf && mount --bind ${dir}/nsswitch.conf /etc/nsswitch.conf && exec getent "$@"`, 'getent', ...args]);

  it('getent ahosts web.net (and with other case, an alias, a CNAME) succeeds', async () => {
    for (const [name, want] of [['web.net', ['198.19.60.2', 'fd00:60::2']], ['WEB.Net', ['198.19.60.2', 'fd00:60::2']], ['www.net', ['198.19.60.2', 'fd00:60::2']], ['alias.net', ['198.19.60.2', 'fd00:60::2']]] as const) {
      const r = await getent('ahosts', name);
      assert.equal(r.code, 0, `getent ahosts ${name}: rc ${r.code} ${r.stderr}`);
      const addrs = [...new Set(r.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]))].sort();
      assert.deepEqual(addrs, [...want].sort(), name);
    }
    const v4 = await getent('ahostsv4', 'rr.net');
    assert.equal(v4.code, 0);
    assert.deepEqual([...new Set(v4.stdout.trim().split('\n').map((l) => l.split(/\s+/)[0]))].sort(), ['198.19.60.10', '198.19.60.11', '198.19.60.12']);
    assert.equal((await getent('ahosts', 'nope.net')).code, 2, 'an unknown name is still unknown');
  });

  it('dnspython resolves A, AAAA, CNAME chains, SRV, TXT and PTR of qualified names', { skip: noDnspython }, async () => {
    const script = `
import dns.resolver, dns.reversename
r = dns.resolver.Resolver(configure=False)
r.nameservers = ['${srv.address}']
r.lifetime = 5
for name, t in [('web.net', 'A'), ('Web.NET', 'AAAA'), ('alias.net', 'A'), ('alias.net', 'CNAME'), ('_http._tcp.web.net', 'SRV'), ('web.net', 'TXT'), ('rr.net', 'A')]:
    a = r.resolve(name, t)
    print(name, t, a.qname.to_text(), ' '.join(sorted(x.to_text() for x in a)))
print('PTR', ' '.join(x.to_text() for x in r.resolve(dns.reversename.from_address('198.19.60.2'), 'PTR')))
`;
    const r = await run(['ip', 'netns', 'exec', c1.netns, DNSPYTHON, '-c', script]);
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), [
      'web.net A web.net. 198.19.60.2',
      'Web.NET AAAA Web.NET. fd00:60::2',
      'alias.net A alias.net. 198.19.60.2',
      'alias.net CNAME alias.net. web.',
      '_http._tcp.web.net SRV _http._tcp.web.net. 1 5 80 web.',
      'web.net TXT web.net. "hello"',
      'rr.net A rr.net. 198.19.60.10 198.19.60.11 198.19.60.12',
      'PTR web.net.',
    ]);
  });

  it('qualified names rotate; busybox nslookup and dig agree', async () => {
    const firsts = new Set<string>();
    for (let i = 0; i < 3; i++) {
      const out = await c1.exec(['dig', '+tries=1', '+time=3', '+noall', '+answer', `@${srv.address}`, 'rr.net', 'A']);
      const lines = out.trim().split('\n');
      assert.ok(lines.every((l) => l.startsWith('rr.net.')), out);
      firsts.add(lines[0]!.split(/\s+/)[4]!);
    }
    assert.equal(firsts.size, 3, 'each answer starts with the next address');
    if (!(await have('busybox'))) return;
    const bb = await c1.exec(['busybox', 'nslookup', '-type=a', 'web.net', srv.address]);
    assert.match(bb, /Name:\s+web\.net\s+Address: 198\.19\.60\.2/);
  });
});
