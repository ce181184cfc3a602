/**
 * DockerNameSource against a fake Engine API on a unix socket (recorded
 * 20.10-shaped JSON): first sync, events, network filter, service label,
 * reconnect + resync after the daemon "restarts", and the pure mapping.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type ServerResponse } from 'node:http';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MemoryDnsRecords } from '../../src/dns/records.js';
import { DockerNameSource, containerRecords, type ContainerInspect } from '../../src/dns/docker-source.js';

const NET1 = '1'.repeat(64);
const NET2 = '2'.repeat(64);

function container(id: string, name: string, ip: string, opts: { net?: string; netId?: string; aliases?: string[]; dnsNames?: string[]; service?: string; running?: boolean; ipv6?: string } = {}): ContainerInspect {
  const net = opts.net ?? 'front';
  return {
    Id: id,
    Name: `/${name}`,
    State: { Running: opts.running ?? true },
    Config: { Labels: opts.service ? { 'weft.service': opts.service, other: 'x' } : {} },
    NetworkSettings: {
      Networks: {
        [net]: {
          NetworkID: opts.netId ?? NET1, IPAddress: ip, GlobalIPv6Address: opts.ipv6 ?? '',
          Aliases: opts.aliases ?? [id.slice(0, 12)], ...(opts.dnsNames ? { DNSNames: opts.dnsNames } : {}),
        },
      },
    },
  };
}

const names = (recs: MemoryDnsRecords) => recs.list().map((r) => `${r.network} ${r.name} ${r.type} ${'address' in r ? r.address : ''}`).sort();

test('containerRecords: name, aliases (DNSNames first), service label, filtered networks, stopped containers', () => {
  const scopeOf = (id: string) => (id === NET1 ? 'front' : undefined);
  const c = container('a'.repeat(64), 'web', '198.18.1.2', { aliases: ['www', 'aaaaaaaaaaaa'], service: 'api', ipv6: '2001:db8::2' });
  const recs = containerRecords(c, scopeOf);
  const got = recs.map((r) => `${r.name} ${r.type}${'ptr' in r && r.ptr ? ' ptr' : ''}`).sort();
  assert.deepEqual(got, [
    'aaaaaaaaaaaa A', 'aaaaaaaaaaaa AAAA', 'api A', 'api AAAA', 'tasks.api A', 'tasks.api AAAA', 'web A ptr', 'web AAAA ptr', 'www A', 'www AAAA',
  ]);
  const dn = container('b'.repeat(64), 'db', '198.18.1.3', { aliases: ['ignored'], dnsNames: ['db', 'bbbbbbbbbbbb', 'database'] });
  assert.deepEqual(containerRecords(dn, scopeOf).map((r) => r.name).sort(), ['bbbbbbbbbbbb', 'database', 'db']);
  assert.deepEqual(containerRecords(container('c'.repeat(64), 'x', '198.18.2.2', { netId: NET2 }), scopeOf), []);
  assert.deepEqual(containerRecords(container('d'.repeat(64), 'y', '198.18.1.9', { running: false }), scopeOf), []);
  assert.deepEqual(containerRecords(container('e'.repeat(64), 'z', ''), scopeOf), []);
});

test('DockerNameSource: sync, events, reconnect with resync, close', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dockersrc-'));
  const sock = join(dir, 'docker.sock');
  const containers = new Map<string, ContainerInspect>();
  const networks: Record<string, { Name: string; Driver: string }> = { [NET1]: { Name: 'front', Driver: 'weft' }, [NET2]: { Name: 'other', Driver: 'bridge' } };
  let stream: ServerResponse | undefined;
  let eventsRequests = 0;
  let down = false;
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://docker');
    const json = (status: number, body: unknown) => {
      res.writeHead(status, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (down) return json(500, { message: 'starting' });
    if (url.pathname === '/events') {
      eventsRequests++;
      assert.deepEqual(JSON.parse(url.searchParams.get('filters')!), { type: ['container', 'network'] });
      res.writeHead(200, { 'Content-Type': 'application/json' });
      res.flushHeaders();
      stream = res;
      return;
    }
    if (url.pathname === '/containers/json') return json(200, [...containers.values()].filter((c) => c.State?.Running).map((c) => ({ Id: c.Id })));
    let m = /^\/containers\/([^/]+)\/json$/.exec(url.pathname);
    if (m) return containers.has(m[1]!) ? json(200, containers.get(m[1]!)) : json(404, { message: 'No such container' });
    m = /^\/networks\/([^/]+)$/.exec(url.pathname);
    if (m) return networks[m[1]!] ? json(200, networks[m[1]!]) : json(404, { message: 'No such network' });
    json(404, { message: 'page not found' });
  });
  await new Promise<void>((r) => server.listen(sock, r));
  const event = (e: object) => stream!.write(`${JSON.stringify(e)}\n`);
  const until = async (what: string, ok: () => boolean) => {
    for (let i = 0; i < 200 && !ok(); i++) await new Promise((r) => setTimeout(r, 10));
    assert.ok(ok(), what);
  };

  const c1 = 'c1'.padEnd(64, '0');
  const c2 = 'c2'.padEnd(64, '0');
  const c3 = 'c3'.padEnd(64, '0');
  const c4 = 'c4'.padEnd(64, '0');
  containers.set(c1, container(c1, 'web', '198.18.1.2', { aliases: ['www'], service: 'api' }));
  containers.set(c2, container(c2, 'web2', '198.18.1.3', { aliases: [], service: 'api' }));
  containers.set(c3, container(c3, 'hidden', '198.18.2.2', { net: 'other', netId: NET2 }));
  const records = new MemoryDnsRecords([{ network: 'front', name: 'static', type: 'A', address: '198.18.9.9' }]);
  const logs: string[] = [];
  const src = new DockerNameSource({
    socketPath: sock, records, backoffMinMs: 20, backoffMaxMs: 100, log: (m) => logs.push(m),
    networkFilter: (_id, name, driver) => (driver === 'weft' ? name : undefined),
  });
  try {
    src.start();
    await src.ready();
    assert.deepEqual(names(records), [
      'front api A 198.18.1.2', 'front api A 198.18.1.3', 'front static A 198.18.9.9', 'front tasks.api A 198.18.1.2', 'front tasks.api A 198.18.1.3',
      'front web A 198.18.1.2', 'front web2 A 198.18.1.3', 'front www A 198.18.1.2',
    ]);
    assert.equal(src.connected, true);

    // c2 dies: its names and its share of the service go.
    containers.get(c2)!.State!.Running = false;
    event({ Type: 'container', Action: 'die', Actor: { ID: c2, Attributes: { name: 'web2' } } });
    await until('c2 removed', () => !names(records).some((n) => n.includes('198.18.1.3')));
    assert.ok(names(records).includes('front api A 198.18.1.2'));

    // c1 leaves the network.
    containers.get(c1)!.NetworkSettings!.Networks = {};
    event({ Type: 'network', Action: 'disconnect', Actor: { ID: NET1, Attributes: { container: c1, name: 'front', type: 'weft' } } });
    await until('c1 removed', () => names(records).length === 1);

    // dockerd restarts: stream gone, API refuses for a moment, c4 starts meanwhile.
    down = true;
    stream!.destroy();
    containers.set(c4, container(c4, 'late', '198.18.1.4'));
    await new Promise((r) => setTimeout(r, 80));
    down = false;
    await until('reconnected and resynced', () => names(records).includes('front late A 198.18.1.4'));
    assert.ok(eventsRequests >= 2);
    assert.ok(src.syncs >= 2);
    assert.ok(logs.some((l) => /reconnecting/.test(l)), logs.join('\n'));
    // Events keep flowing on the new stream; junk lines are ignored.
    stream!.write('not json\n');
    containers.delete(c4);
    event({ Type: 'container', Action: 'destroy', Actor: { ID: c4 } });
    await until('c4 removed', () => !names(records).some((n) => n.includes('late')));
    containers.set(c4, container(c4, 'late', '198.18.1.4'));
    event({ Type: 'container', Action: 'start', Actor: { ID: c4 } });
    await until('c4 back', () => names(records).includes('front late A 198.18.1.4'));
  } finally {
    await src.close(true);
    server.close();
    server.closeAllConnections();
    rmSync(dir, { recursive: true, force: true });
  }
  assert.deepEqual(names(records), ['front static A 198.18.9.9'], 'close(true) takes back only its own records');
});
