/**
 * One host's overlay security as its own process (encryption.test.ts kills
 * it with SIGKILL mid-way and runs it again): opens the embedded store,
 * programs the admission filter and SAs for the given networks, exits 0.
 * argv: STATE_DIR NETNS LOCAL PEER NETWORKS_JSON INSTANCE
 */
import { EmbeddedStore } from '../../src/control/embedded-store.js';
import { OverlaySecurity } from '../../src/control/overlay-security.js';
import type { NetworkRecord } from '../../src/cnm/model.js';

const [dir, netns, local, peer, networks, instance] = process.argv.slice(2) as [string, string, string, string, string, string];
const store = await EmbeddedStore.open(dir);
const sec = new OverlaySecurity(store, { localAddress: local, netns, instance, storeIsPrivate: true, log: () => undefined });
process.stdout.write('started\n');
await sec.setPeers([local, peer]);
for (const n of JSON.parse(networks) as NetworkRecord[]) await sec.ensureNetwork(n);
await sec.stop();
await store.close();
