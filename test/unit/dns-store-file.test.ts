/** The JSON record file: persisted through io/atomic-file (no temp left behind), reopened intact, corruption refused. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileDnsRecords } from '../../src/dns/index.js';

test('FileDnsRecords: every change is on disk before it returns; reopen sees it; bad files are errors', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-dnsfile-'));
  try {
    const a = FileDnsRecords.open(join(dir, 'state'));
    assert.equal(a.add({ network: 'n', name: 'Web', type: 'A', address: '198.18.1.2', ptr: true }), true);
    assert.equal(a.add({ network: 'n', name: 'db', type: 'AAAA', address: '2001:DB8::1' }), true);
    assert.equal(a.remove({ network: 'n', name: 'db', type: 'AAAA', address: '2001:db8:0::1' }), true);
    const b = FileDnsRecords.open(join(dir, 'state'));
    assert.deepEqual(b.list(), [{ network: 'n', name: 'web', type: 'A', address: '198.18.1.2', ptr: true }]);
    assert.deepEqual(readdirSync(join(dir, 'state')), ['dns-records.json'], 'no temp file left');
    writeFileSync(join(dir, 'state', 'dns-records.json'), '{"version":1,"rec');
    assert.throws(() => FileDnsRecords.open(join(dir, 'state')), { code: 'ERR_WEFT_STATE_FILE' });
    writeFileSync(join(dir, 'state', 'dns-records.json'), '{"version":1}');
    assert.throws(() => FileDnsRecords.open(join(dir, 'state')), { code: 'ERR_WEFT_STATE_FILE' });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
