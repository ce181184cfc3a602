/**
 * One lab host's weft overlay as its own process, run under
 * `nsenter --net=<host namespace>` (so "the host namespace" is the lab
 * host's, as for a daemon): opens the shared embedded store, and through the
 * product's OverlayDriver with OverlaySecurity builds each network (filter
 * and SAs first, then br0 and vxlan0), its local endpoint and its remote
 * peers, then exits 0. Each run reconciles the kernel with the store, so it
 * stands for a daemon start (after kill -9, a flush or a key rotation).
 * Used by test/kernel/encryption.test.ts and bench/encryption.ts.
 *
 * argv: SPEC_JSON (AgentSpec)
 */
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { OverlaySecurity } from '../../src/control/overlay-security.js';
import { OverlayDriver, type RemotePeer } from '../../src/cnm/drivers/overlay.js';
import { RtnlHandles } from '../../src/cnm/drivers/rtnl-handles.js';
import type { EndpointRecord, NetworkRecord } from '../../src/cnm/model.js';

export interface AgentSpec {
  stateDir: string;
  instance: string;
  local: string;
  peers: string[];
  networks: { record: NetworkRecord; endpoint: EndpointRecord; remote: RemotePeer[] }[];
}

const spec = JSON.parse(process.argv[2]!) as AgentSpec;
const store = await EmbeddedStore.open(spec.stateDir);
const security = new OverlaySecurity(store, { localAddress: spec.local, instance: spec.instance, storeIsPrivate: true, log: () => undefined });
const handles = new RtnlHandles();
const overlay = new OverlayDriver(handles, { localAddress: spec.local, instance: spec.instance, security });
process.stdout.write('started\n');
await security.setPeers(spec.peers);
for (const n of spec.networks) {
  await overlay.ensureNetwork(n.record);
  await overlay.ensureEndpoint(n.record, n.endpoint);
  await overlay.addPeers(n.record, n.remote);
}
handles.close();
await security.settled();
await security.stop();
await store.close();
