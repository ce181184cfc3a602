/**
 * The state journal's durability rules (docs/state.md): length + checksum
 * per record, a torn tail cut at open and every earlier record kept (at
 * every byte offset of the last record), anything else refused untouched,
 * v1 journals migrated once, compaction atomic with no temp left behind.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { JournalCorruptError } from '../../src/errors.js';
import { JOURNAL_HEADER, Journal, encodeRecord, readJournal, scanJournal } from '../../src/io/journal.js';
import { EmbeddedStore } from '../../src/control/embedded-store.js';

function withDir<T>(fn: (dir: string) => T | Promise<T>): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'weft-journal-'));
  return Promise.resolve(fn(dir)).finally(() => rmSync(dir, { recursive: true, force: true }));
}

const records = (n: number) => Array.from({ length: n }, (_, i) => ({ k: `key/${i}`, v: `value ${i} ✓` }));

test('records round-trip; the file is a header and length+checksum records', () => withDir((dir) => {
  const path = join(dir, 'state.journal');
  const { journal, scan } = Journal.open(path);
  assert.equal(scan.status, 'missing');
  journal.append(...records(3));
  journal.close();
  const text = readFileSync(path, 'utf8');
  assert.ok(text.startsWith(JOURNAL_HEADER));
  assert.match(text.split('\n')[1]!, /^[0-9a-f]{8} [0-9a-f]{8} \{"k":"key\/0"/);
  const again = Journal.open(path);
  assert.equal(again.scan.status, 'ok');
  assert.deepEqual(again.records, records(3));
  again.journal.close();
}));

test('a torn last record, cut at every byte offset, is repaired and every earlier record kept (property)', () => withDir(async (dir) => {
  const path = join(dir, 'state.journal');
  await fc.assert(fc.property(fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 12 }), fc.string({ maxLength: 40 })).map(([k, v]) => ({ k, v })), { minLength: 1, maxLength: 5 }), (recs) => {
    const body = Buffer.concat([Buffer.from(JOURNAL_HEADER), ...recs.map(encodeRecord)]);
    const last = encodeRecord(recs[recs.length - 1]);
    const start = body.length - last.length;
    for (let cut = start; cut < body.length; cut++) {
      writeFileSync(path, body.subarray(0, cut));
      const { journal, scan, records: got } = Journal.open(path);
      assert.deepEqual(got, recs.slice(0, -1), `cut at ${cut}`);
      assert.equal(scan.status, cut === start ? 'ok' : 'repaired');
      assert.equal(readFileSync(path).length, start, 'tail cut off on disk');
      journal.append({ k: 'after', v: 'crash' });
      journal.close();
      assert.deepEqual(readJournal(path).records, [...recs.slice(0, -1), { k: 'after', v: 'crash' }], 'appendable after repair');
    }
  }), { numRuns: 4 });
}));

test('scanning any prefix of a journal yields exactly the whole records in it (property)', () => {
  fc.assert(fc.property(fc.array(fc.tuple(fc.string({ maxLength: 8 }), fc.string({ maxLength: 30 })).map(([k, v]) => ({ k, v })), { maxLength: 8 }), fc.nat(), (recs, n) => {
    const parts = [Buffer.from(JOURNAL_HEADER), ...recs.map(encodeRecord)];
    const body = Buffer.concat(parts);
    const cut = JOURNAL_HEADER.length + (n % (body.length - JOURNAL_HEADER.length + 1));
    let whole = 0;
    for (let end = JOURNAL_HEADER.length, i = 0; i < recs.length; i++) {
      end += parts[i + 1]!.length;
      if (end <= cut) whole = i + 1;
    }
    assert.deepEqual(scanJournal('j', body.subarray(0, cut)).records, recs.slice(0, whole));
  }), { numRuns: 300 });
});

test('a flipped byte anywhere in a complete record is refused and nothing is changed', () => withDir((dir) => {
  const path = join(dir, 'state.journal');
  const body = Buffer.concat([Buffer.from(JOURNAL_HEADER), ...records(4).map(encodeRecord)]);
  for (let off = JOURNAL_HEADER.length; off < body.length; off += 7) {
    const bad = Buffer.from(body);
    bad[off] = bad[off]! ^ 0x20;
    writeFileSync(path, bad);
    assert.throws(() => Journal.open(path), (e: unknown) => e instanceof JournalCorruptError && /weft state recover/.test(e.message), `flip at ${off}`);
    assert.deepEqual(readFileSync(path), bad, 'damaged file untouched');
  }
}));

test('the records before the damage are reported (what recovery starts from)', () => {
  const body = Buffer.concat([Buffer.from(JOURNAL_HEADER), ...records(3).map(encodeRecord)]);
  const second = JOURNAL_HEADER.length + encodeRecord(records(1)[0]).length;
  body[second + 20] = 0x21;
  assert.throws(() => scanJournal('j', body), (e: unknown) => e instanceof JournalCorruptError && e.offset === second && e.records.length === 1);
});

test('a v1 journal (JSON lines) is read once, kept as .v1 and rewritten in v2', () => withDir((dir) => {
  const path = join(dir, 'state.journal');
  writeFileSync(path, '{"k":"a","v":"1"}\n{"k":"b","v":"2"}\n{"k":"a"}\n{"k":"torn');
  const store = EmbeddedStore.open(dir);
  assert.equal(store.opened.status, 'migrated');
  void store.close();
  assert.ok(readFileSync(path, 'utf8').startsWith(JOURNAL_HEADER));
  assert.ok(existsSync(`${path}.v1`));
  assert.deepEqual([...EmbeddedStore.snapshot(dir)], [['b', '2']]);
  writeFileSync(path, '{"k":"a","v":"1"}\n{"k":"to\n{"k":"b","v":"2"}\n');
  assert.throws(() => EmbeddedStore.open(dir), JournalCorruptError, 'a torn line mid-file in v1 is damage, not a tail');
}));

test('an empty or header-only journal opens empty; stale temp files are removed', () => withDir((dir) => {
  const path = join(dir, 'state.journal');
  writeFileSync(path, '');
  writeFileSync(join(dir, '.state.journal.tmp-12345'), 'leftover');
  const { journal, scan } = Journal.open(path);
  assert.equal(scan.status, 'empty');
  journal.close();
  assert.deepEqual(readdirSync(dir).sort(), ['state.journal']);
  truncateSync(path, 5); // a crash while the header was written
  assert.equal(readJournal(path).status, 'empty');
}));

test('compaction replaces the file atomically and batches replay as one record', () => withDir(async (dir) => {
  const store = EmbeddedStore.open(dir);
  for (let i = 0; i < 20; i++) await store.put(`k/${i % 3}`, String(i));
  await store.batch([{ key: 'vni/300', value: 'n1' }, { key: 'networks/n1', value: '{}' }, { key: 'k/0' }]);
  await store.close();
  const again = EmbeddedStore.open(dir);
  assert.deepEqual(await again.list(''), new Map([['k/1', '19'], ['k/2', '17'], ['vni/300', 'n1'], ['networks/n1', '{}']]));
  await again.close();
  assert.deepEqual(readdirSync(dir).sort(), ['state.journal']);
}));
