/** Bounded run of every fuzz target (deterministic seed): only DecodeError may escape a decoder. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { runTarget, targetNames } from '../../fuzz/run.js';

const MS_PER_TARGET = 2000;

describe('fuzz targets (bounded)', () => {
  const names = targetNames();
  it('finds the targets', () => assert.ok(names.length >= 11, names.join(',')));
  for (const name of names) {
    it(name, async () => {
      const r = await runTarget(name, MS_PER_TARGET, 0x5eed);
      assert.equal(r.failure, undefined, r.failure ? `input ${r.failure.input}\n${r.failure.error}` : '');
      assert.ok(r.runs > 0);
    });
  }
});
