/**
 * Prometheus metrics, kept cheap where events happen: a counter is a plain
 * number, a labelled series is looked up once and kept by its caller, a
 * histogram is a fixed array of bucket counts. Nothing is formatted until a
 * scrape renders the text exposition format (version 0.0.4). Values that
 * already exist elsewhere (a listener's counters, the number of networks)
 * are read at scrape time by collectors instead of being counted twice.
 *
 * Names follow Prometheus conventions: weft_<area>_<what>_total for
 * counters, _seconds for durations, base units everywhere.
 */

export type MetricType = 'counter' | 'gauge' | 'histogram';

/** Label values are escaped once, when the series is made. */
function labelText(labels: Record<string, string | number>): string {
  const parts = Object.entries(labels).map(([k, v]) => `${k}="${String(v).replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`);
  return parts.length ? `{${parts.join(',')}}` : '';
}

export class Counter {
  value = 0;
  inc(n = 1): void {
    this.value += n;
  }
}

/** Default buckets for latencies from 100 µs to 10 s. */
export const LATENCY_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export class Histogram {
  readonly counts: Float64Array;
  sum = 0;
  count = 0;
  constructor(readonly bounds: readonly number[] = LATENCY_BUCKETS) {
    this.counts = new Float64Array(bounds.length);
  }

  observe(seconds: number): void {
    const b = this.bounds;
    let i = 0;
    while (i < b.length && seconds > b[i]!) i++;
    if (i < b.length) this.counts[i]!++;
    this.sum += seconds;
    this.count++;
  }

  /** Observes the time since `start` (a performance.now() reading). */
  since(start: number): void {
    this.observe((performance.now() - start) / 1000);
  }
}

interface Series {
  labels: string;
  metric: Counter | Histogram;
}

/** A sample written by a collector at scrape time. */
export type Sample = [labels: Record<string, string | number>, value: number];

class Family<M extends Counter | Histogram> {
  readonly series = new Map<string, Series>();
  constructor(readonly name: string, readonly help: string, readonly type: MetricType, private readonly make: () => M) {}

  /** The series for these label values (created on first use; keep it for hot paths). */
  with(labels: Record<string, string | number> = {}): M {
    const key = labelText(labels);
    let s = this.series.get(key);
    if (!s) {
      s = { labels: key, metric: this.make() };
      this.series.set(key, s);
    }
    return s.metric as M;
  }
}

export class Registry {
  readonly #families = new Map<string, Family<Counter | Histogram> | { name: string; help: string; type: MetricType; collect: () => Sample[] }>();

  counter(name: string, help: string): Family<Counter> {
    return this.#add(new Family(name, help, 'counter', () => new Counter()));
  }

  histogram(name: string, help: string, bounds: readonly number[] = LATENCY_BUCKETS): Family<Histogram> {
    return this.#add(new Family(name, help, 'histogram', () => new Histogram(bounds)));
  }

  /** A family whose samples are read when scraped. */
  collect(name: string, help: string, type: 'counter' | 'gauge', collect: () => Sample[]): void {
    this.#families.set(name, { name, help, type, collect });
  }

  #add<F extends Family<Counter> | Family<Histogram>>(f: F): F {
    const existing = this.#families.get(f.name);
    if (existing instanceof Family) return existing as F;
    this.#families.set(f.name, f as Family<Counter | Histogram>);
    return f;
  }

  /** The text exposition format. */
  render(): string {
    const out: string[] = [];
    for (const f of [...this.#families.values()].sort((a, b) => a.name.localeCompare(b.name))) {
      const samples: string[] = [];
      if (f instanceof Family) {
        for (const s of f.series.values()) {
          const m = s.metric;
          if (m instanceof Histogram) samples.push(...histogramLines(f.name, s.labels, m));
          else samples.push(`${f.name}${s.labels} ${num(m.value)}`);
        }
      } else {
        for (const [labels, v] of f.collect()) samples.push(`${f.name}${labelText(labels)} ${num(v)}`);
      }
      out.push(`# HELP ${f.name} ${f.help}`, `# TYPE ${f.name} ${f.type}`, ...samples);
    }
    return `${out.join('\n')}\n`;
  }
}

function num(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

function histogramLines(name: string, labels: string, h: Histogram): string[] {
  const inner = labels ? `${labels.slice(1, -1)},` : '';
  const lines: string[] = [];
  let cum = 0;
  h.bounds.forEach((b, i) => {
    cum += h.counts[i]!;
    lines.push(`${name}_bucket{${inner}le="${b}"} ${cum}`);
  });
  lines.push(`${name}_bucket{${inner}le="+Inf"} ${h.count}`, `${name}_sum${labels} ${num(h.sum)}`, `${name}_count${labels} ${h.count}`);
  return lines;
}

/** The process-wide registry every module registers into. */
export const metrics = new Registry();
