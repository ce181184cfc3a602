/**
 * `npm run bench -- report`: every bench/results/*.json as one
 * self-contained HTML page (bench/report.html; inline CSS and SVG, no
 * scripts, nothing fetched). Per benchmark: a chart of each ratio against
 * its goal on a log scale (1 = as good as the peer; a results file may set
 * its own `goals`), the machine and date, the notes, and every row.
 */
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Row } from './lib.js';

export interface ResultsFile {
  name: string;
  date?: string;
  machine?: { cpus?: number; cpu?: string; memory?: number; kernel?: string; node?: string };
  rows: Row[];
  ratios: Record<string, number | null>;
  /** Goal per ratio (default 1: at least as good as the peer). */
  goals?: Record<string, number>;
  notes?: string[];
}

const esc = (s: unknown) => String(s ?? '').replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');

function cell(v: unknown): string {
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toPrecision(4);
  return esc(v);
}

/** Horizontal bars on a log10 axis from 0.01 to 100, with each ratio's goal marked. */
export function ratioChart(r: ResultsFile): string {
  const entries = Object.entries(r.ratios);
  const label = 250;
  const plot = 520;
  const rowH = 26;
  const top = 24;
  const h = top + entries.length * rowH + 8;
  const lo = -2;
  const hi = 2;
  const x = (v: number) => label + ((Math.min(hi, Math.max(lo, Math.log10(v))) - lo) / (hi - lo)) * plot;
  const parts: string[] = [`<svg xmlns="http://www.w3.org/2000/svg" width="${label + plot + 70}" height="${h}" role="img" aria-label="${esc(r.name)} ratios">`];
  for (const t of [0.01, 0.1, 1, 10, 100]) {
    parts.push(`<line x1="${x(t)}" y1="${top - 6}" x2="${x(t)}" y2="${h - 4}" class="grid"/><text x="${x(t)}" y="${top - 10}" class="tick">${t}×</text>`);
  }
  entries.forEach(([k, v], i) => {
    const y = top + i * rowH;
    const goal = r.goals?.[k] ?? 1;
    parts.push(`<text x="${label - 8}" y="${y + 16}" class="name">${esc(k)}</text>`);
    if (v === null || !Number.isFinite(v) || v <= 0) {
      parts.push(`<text x="${label + 4}" y="${y + 16}" class="na">n/a</text>`);
    } else {
      const met = v >= goal;
      const x0 = x(1);
      const x1 = x(v);
      parts.push(`<rect x="${Math.min(x0, x1)}" y="${y + 4}" width="${Math.max(1, Math.abs(x1 - x0))}" height="${rowH - 10}" class="${met ? 'met' : 'missed'}"><title>${esc(k)} = ${v} (goal ${goal})</title></rect>`);
      parts.push(`<text x="${Math.max(x0, x1) + 4}" y="${y + 16}" class="value">${v}</text>`);
    }
    parts.push(`<line x1="${x(goal)}" y1="${y + 1}" x2="${x(goal)}" y2="${y + rowH - 3}" class="goal"><title>goal ${goal}</title></line>`);
  });
  parts.push('</svg>');
  return parts.join('');
}

function rowsTable(rows: Row[]): string {
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  return `<table><thead><tr>${cols.map((c) => `<th>${esc(c)}</th>`).join('')}</tr></thead><tbody>${rows.map((r) => `<tr>${cols.map((c) => `<td${typeof r[c] === 'number' ? ' class="num"' : ''}>${cell(r[c])}</td>`).join('')}</tr>`).join('')}</tbody></table>`;
}

export function renderReport(results: ResultsFile[]): string {
  const sections = results.map((r) => {
    const m = r.machine;
    const machine = m ? `${m.cpus ?? '?'} × ${esc(m.cpu ?? 'cpu')}, ${m.memory ? `${Math.round(m.memory / 2 ** 30)} GiB` : ''}, kernel ${esc(m.kernel)}, node ${esc(m.node)}` : '';
    const total = Object.values(r.ratios).filter((v) => v !== null).length;
    const met = Object.entries(r.ratios).filter(([k, v]) => v !== null && v >= (r.goals?.[k] ?? 1)).length;
    return `<section id="${esc(r.name)}"><h2>${esc(r.name)} <span class="score">${met}/${total} ratios at goal</span></h2>
<p class="meta">${esc(r.date?.slice(0, 10) ?? '')} · ${machine}</p>
${ratioChart(r)}
${r.notes?.length ? `<ul class="notes">${r.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
<details><summary>${r.rows.length} rows</summary>${rowsTable(r.rows)}</details></section>`;
  });
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>weft benchmarks</title>
<style>
body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;color:#222;padding:0 1em}
h1{font-size:1.6em}h2{font-size:1.2em;margin-top:2em;border-bottom:1px solid #ddd}
.score{font-weight:normal;color:#666;font-size:.8em}.meta{color:#666;margin:.2em 0 .8em}
svg text{font:12px system-ui,sans-serif}.name{text-anchor:end}.tick{text-anchor:middle;fill:#888}.value{fill:#333}.na{fill:#999}
.grid{stroke:#eee}.goal{stroke:#222;stroke-width:2}.met{fill:#3a8f5c}.missed{fill:#c8553d}
table{border-collapse:collapse;font-size:12px;margin:.5em 0}td,th{border:1px solid #ddd;padding:2px 6px;text-align:left}td.num{text-align:right;font-variant-numeric:tabular-nums}
.notes{color:#444;font-size:13px}nav a{margin-right:1em}
</style></head><body>
<h1>weft benchmarks</h1>
<p>Each bar is a ratio of weft against its peer: above 1× weft is better (for latencies: the peer's time ÷ weft's). The black mark is the goal (1× unless the results file sets one); green bars reach it, red bars do not. Produced by <code>npm run bench -- report</code> from <code>bench/results/*.json</code>.</p>
<nav>${results.map((r) => `<a href="#${esc(r.name)}">${esc(r.name)}</a>`).join('')}</nav>
${sections.join('\n')}
</body></html>
`;
}

/** Reads bench/results/*.json under repoRoot and writes bench/report.html; returns its path. */
export function writeReport(repoRoot: string): string {
  const dir = join(repoRoot, 'bench', 'results');
  const results = readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as ResultsFile);
  const out = join(repoRoot, 'bench', 'report.html');
  writeFileSync(out, renderReport(results));
  return out;
}
