/**
 * The ingress mesh on IPVS (kernel lab): the same three-host scenario as the
 * nftables test, with `ipvsadm -Ln` as the oracle for the balancing and
 * `nft -j list` for the marking/masquerade table.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { SERVICE_MARK_BASE } from '../../src/dataplane/mesh.js';
import { have, sh } from '../support/exec.js';
import { meshScenario } from '../integration/mesh-lab.js';

const skip = process.env.WEFT_KLAB === '1' ? undefined : 'runs only inside the kernel lab (WEFT_KLAB=1)';

test('IPVS mesh: 3 hosts x 3 backends, even spread, removal, source preserving', { skip, timeout: 600_000 }, async (t) => {
  if (!(await have('nft'))) return t.skip('nft not in the kernel lab initramfs');
  await meshScenario('ipvs', async (ml, _meshes, phase) => {
    for (const h of ml.hosts) {
      const out = await sh(['ip', 'netns', 'exec', h.netns, 'ipvsadm', '-Ln']);
      const fwms = [...out.matchAll(/^FWM\s+(\d+) (\S+)/gm)].map((m) => Number(m[1]));
      if (phase === 'destroyed') {
        assert.deepEqual(fwms, [], `${h.netns}: IPVS services left behind`);
        const tables = await sh(['ip', 'netns', 'exec', h.netns, 'nft', 'list', 'tables']);
        assert.equal(tables.trim(), '');
        continue;
      }
      assert.deepEqual(fwms, [SERVICE_MARK_BASE, SERVICE_MARK_BASE + 1]);
      const web = out.split(/^FWM/m).find((s) => s.startsWith(`  ${SERVICE_MARK_BASE} `))!;
      const dests = [...web.matchAll(/->\s+(\S+)\s+Masq\s+1/g)].map((m) => m[1]);
      assert.deepEqual(dests.sort(), phase === 'all' ? ['198.19.1.2:80', '198.19.2.2:80', '198.19.3.2:80'] : ['198.19.1.2:80', '198.19.3.2:80']);
    }
  });
});
