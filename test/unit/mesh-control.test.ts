import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MemoryDnsRecords } from '../../src/dns/records.js';
import { desiredServices } from '../../src/daemon/mesh-control.js';
import type { NetworkRecord } from '../../src/cnm/model.js';

const net = (id: string): NetworkRecord => ({ id, mode: 'overlay', mtu: 1450, internal: false, ipv6: false, ipv4: [{ pool: '198.19.1.0/24', aux: {} }], ipv6Subnets: [], options: {} });

test('services come from weft.publish TXT records; backends from tasks.NAME; bad labels are ignored', () => {
  const nid = 'a'.repeat(64);
  const r = new MemoryDnsRecords([
    { network: nid, name: 'web', type: 'TXT', text: ['weft.publish=8080:80,53:53/udp'] },
    { network: nid, name: 'tasks.web', type: 'A', address: '198.19.1.2' },
    { network: nid, name: 'tasks.web', type: 'A', address: '198.19.1.3' },
    { network: nid, name: 'web', type: 'A', address: '198.19.1.2' },
    { network: nid, name: 'bad', type: 'TXT', text: ['weft.publish=99999'] },
    { network: 'b'.repeat(64), name: 'other', type: 'TXT', text: ['weft.publish=80'] },
  ]);
  const logs: unknown[] = [];
  const d = desiredServices(r, new Map([[nid, net(nid)]]), (l) => logs.push(l));
  assert.deepEqual([...d.keys()], [`web.${nid.slice(0, 12)}`]);
  const web = d.get(`web.${nid.slice(0, 12)}`)!;
  assert.deepEqual(web.backends, ['198.19.1.2', '198.19.1.3']);
  assert.deepEqual(web.ports, [{ published: 8080, target: 80, protocol: 'tcp' }, { published: 53, target: 53, protocol: 'udp' }]);
  assert.equal(logs.length, 1, 'the bad label is reported once');
});
