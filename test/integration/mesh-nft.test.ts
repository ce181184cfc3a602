/**
 * The ingress mesh on this host's kernel (no IPVS): nftables backend across
 * three lab hosts, with `nft -j list` as the oracle. Hosts route the
 * backend subnets over the underlay directly (no VXLAN overlay here).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { have, json } from '../support/exec.js';
import { rootSkipReason } from '../support/lab.js';
import { meshScenario } from './mesh-lab.js';

interface NftList { nftables: Array<Record<string, any>> }

const skip = rootSkipReason() ?? (process.env.WEFT_KLAB === '1' ? 'the kernel lab runs the IPVS variant' : undefined);

test('nftables mesh: 3 hosts x 3 backends, even spread, removal, source preserving', { skip, timeout: 300_000 }, async (t) => {
  if (!(await have('nft'))) return t.skip('nft not installed');
  await meshScenario('nft', async (ml, _meshes, phase) => {
    for (const h of ml.hosts) {
      const all = await json<NftList>(['ip', 'netns', 'exec', h.netns, 'nft', '-j', 'list', 'ruleset']);
      const tables = all.nftables.filter((o) => o.table).map((o) => `${o.table.family} ${o.table.name}`);
      if (phase === 'destroyed') {
        assert.deepEqual(tables, [], `${h.netns}: mesh left rules behind`);
        continue;
      }
      assert.deepEqual(tables, ['ip weft_mesh'], 'weft owns one table and touches nothing else');
      const dnats = all.nftables.filter((o) => o.rule).flatMap((o) => o.rule.expr).filter((e: any) => e.dnat).map((e: any) => `${e.dnat.addr}:${e.dnat.port}`);
      const want = phase === 'all' ? ['198.19.1.2:80', '198.19.2.2:80', '198.19.3.2:80'] : ['198.19.1.2:80', '198.19.3.2:80'];
      // web (masquerade) plus keepsrc (all three)
      assert.deepEqual([...new Set(dnats)].sort(), ['198.19.1.2:80', '198.19.2.2:80', '198.19.3.2:80']);
      const webChain = all.nftables.find((o) => o.rule?.comment === 'web 8080/tcp');
      assert.ok(webChain, 'service chain for web');
      const vmap = webChain.rule.expr.find((e: any) => e.vmap).vmap;
      assert.equal(vmap.key.numgen.mod, want.length);
      const masq = all.nftables.find((o) => o.rule?.chain === 'postrouting' && o.rule.expr.some((e: any) => 'masquerade' in e));
      assert.ok(masq, 'masquerade rule for web');
    }
  });
});
