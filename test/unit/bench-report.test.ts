/** bench/report.ts: one self-contained page, a bar per ratio against its goal, every row. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { renderReport, type ResultsFile } from '../../bench/report.js';

test('report: bars coloured by goal, n/a for missing ratios, rows in a table, nothing external', () => {
  const r: ResultsFile = {
    name: 'demo', date: '2026-12-02T00:00:00Z', rows: [{ tool: 'weft', qps: 2.5 }, { tool: 'peer<x>', qps: 1 }],
    ratios: { qps_vs_peer: 2.5, p99_vs_peer: 0.8, missing: null, custom: 1.5 }, goals: { custom: 2 }, notes: ['a note'],
  };
  const html = renderReport([r]);
  assert.equal((html.match(/class="met"/g) ?? []).length, 1);
  assert.equal((html.match(/class="missed"/g) ?? []).length, 2, 'p99 below 1 and custom below its goal of 2');
  assert.match(html, /<title>custom = 1.5 \(goal 2\)<\/title>/);
  assert.match(html, /n\/a/);
  assert.match(html, /peer&lt;x&gt;/);
  assert.match(html, /1\/3 ratios at goal/);
  assert.doesNotMatch(html, /<script|src=|href="http/);
});
