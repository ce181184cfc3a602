/**
 * The operator's CLI habits without privileges: every verb answers --help
 * (exit 0) from its flag table, --version, the bash completion is valid bash
 * built from the same tables, the shared flag parser, the daemon's config
 * file, the logger (levels, JSON vs text, no secrets) and the metrics text.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { run } from '../support/exec.js';
import { VERBS } from '../../src/cli/verbs.js';
import { parseFlags } from '../../src/cli/flags.js';
import { configArgs, parse as parseDaemon } from '../../src/cli/commands/daemon.js';
import { parseListenAddress } from '../../src/daemon/control.js';
import { createLogger } from '../../src/log.js';
import { Registry } from '../../src/metrics.js';

const cli = new URL('../../src/cli/main.js', import.meta.url).pathname;
const version = (JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

test('every verb answers --help (and -h) with exit 0, listing each of its flags', async () => {
  for (const v of VERBS) {
    for (const flag of v.name === 'link' ? ['--help', '-h'] : ['--help']) {
      const r = await run([process.execPath, cli, v.name, flag]);
      assert.equal(r.code, 0, `${v.name} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, new RegExp(`^weft ${v.name}: `));
      for (const f of v.flags) assert.ok(r.stdout.includes(f.name), `${v.name} --help lacks ${f.name}`);
    }
  }
  const h = await run([process.execPath, cli, 'help', 'status']);
  assert.equal(h.code, 0);
  assert.match(h.stdout, /--probe-timeout/);
});

test('weft --version and -V print the package version; help lists every verb', async () => {
  for (const a of ['--version', '-V', 'version']) {
    const r = await run([process.execPath, cli, a]);
    assert.equal(r.code, 0);
    assert.equal(r.stdout, `weft ${version}\n`);
  }
  const r = await run([process.execPath, cli, 'help']);
  for (const v of VERBS) assert.match(r.stdout, new RegExp(`^  ${v.name} `, 'm'));
  const unknown = await run([process.execPath, cli, 'frobnicate']);
  assert.equal(unknown.code, 2);
  assert.equal(unknown.stderr.split('\n').length, 2, 'one line on stderr');
});

test('bad flags: one line on stderr, exit 2, no stack trace', async () => {
  for (const args of [['daemon', '--mesh', 'bogus'], ['daemon', '--nope'], ['status', '--probe-timeout', 'x'], ['vtep', 'run', '--tap'],
    ['vtep', 'run', '--tap', 't0', '--vni', '1', '--local', '198.18.0.1', '--underlay-tap', 'u0']]) {
    const r = await run([process.execPath, cli, ...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.doesNotMatch(r.stderr, /\n\s+at /);
  }
});

test('bash completion is generated from the flag tables and is valid bash', async () => {
  const r = await run([process.execPath, cli, 'completion', 'bash']);
  assert.equal(r.code, 0);
  for (const v of VERBS) assert.match(r.stdout, new RegExp(`^    ${v.name}\\)`, 'm'));
  assert.match(r.stdout, /--mesh\) COMPREPLY=\(\$\(compgen -W "auto ipvs nft off"/);
  assert.equal((await run(['bash', '-n'], { input: r.stdout })).code, 0);
  // Completing `weft daemon --log-l` offers --log-level.
  const script = `${r.stdout}\nCOMP_WORDS=(weft daemon --log-l); COMP_CWORD=2; _weft; echo "\${COMPREPLY[@]}"`;
  assert.equal((await run(['bash', '-c', script])).stdout.trim(), '--log-level');
});

test('the shared parser: --x v, --x=v, short aliases, repeatable flags, choices, -- ends flags', () => {
  const flags = [
    { name: '--store', value: 'URL', help: '' },
    { name: '--peer', value: 'A', multi: true, help: '' },
    { name: '--json', short: '-j', help: '' },
    { name: '--mode', value: 'M', choices: ['a', 'b'], help: '' },
  ];
  const p = parseFlags(flags, ['ls', '--store=etcd://x', '-j', '--peer', '1', 'dev', '--peer=2', '--', '--json']);
  assert.deepEqual(p.positionals, ['ls', 'dev', '--json']);
  assert.equal(p.values.get('store'), 'etcd://x');
  assert.equal(p.values.get('json'), true);
  assert.deepEqual(p.values.get('peer'), ['1', '2']);
  assert.throws(() => parseFlags(flags, ['--mode', 'c']), /must be a, b/);
  assert.throws(() => parseFlags(flags, ['--store']), /needs a value/);
  assert.throws(() => parseFlags(flags, ['--bogus']), /unknown argument "--bogus"/);
  assert.deepEqual(parseFlags(flags, ['-1']).positionals, ['-1'], 'a negative number is a word');
  assert.deepEqual(parseFlags(flags, ['-6'], { allowUnknownDash: () => true }).positionals, ['-6']);
});

test('weft daemon --config FILE: options one per line; the command line wins; bad lines name the line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-ops-conf-'));
  try {
    const f = join(dir, 'weft.conf');
    writeFileSync(f, '# comment\nstore etcd://198.18.0.254:2379\nlocal = 198.18.0.1\n\nno-dns\ndns-upstream 198.18.0.53\ndns-upstream 198.18.0.54:5353\nmetrics 9323   # trailing comment\nlog-level debug\n');
    assert.deepEqual(configArgs(f), ['--store', 'etcd://198.18.0.254:2379', '--local', '198.18.0.1', '--no-dns', '--dns-upstream', '198.18.0.53', '--dns-upstream', '198.18.0.54:5353', '--metrics', '9323', '--log-level', 'debug']);
    const { opts, logLevel } = parseDaemon(['--config', f, '--local', '198.18.0.9']);
    assert.equal(opts.store, 'etcd://198.18.0.254:2379');
    assert.equal(opts.localAddress, '198.18.0.9');
    assert.equal(opts.dns, false);
    assert.deepEqual(opts.dnsUpstreams, [{ address: '198.18.0.53', port: 53 }, { address: '198.18.0.54', port: 5353 }]);
    assert.deepEqual(opts.metrics, { host: '127.0.0.1', port: 9323 });
    assert.equal(logLevel, 'debug');
    writeFileSync(f, 'store x\nfrobnicate 1\n');
    assert.throws(() => configArgs(f), /weft\.conf:2: unknown option "frobnicate"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('--metrics addresses: PORT is loopback, HOST:PORT, [v6]:PORT, or a unix socket path', () => {
  assert.deepEqual(parseListenAddress('9323'), { host: '127.0.0.1', port: 9323 });
  assert.deepEqual(parseListenAddress('0.0.0.0:9323'), { host: '0.0.0.0', port: 9323 });
  assert.deepEqual(parseListenAddress('[::1]:9323'), { host: '::1', port: 9323 });
  assert.deepEqual(parseListenAddress('/run/weft/metrics.sock'), { path: '/run/weft/metrics.sock' });
  assert.throws(() => parseListenAddress('localhost'), /--metrics needs/);
  assert.throws(() => parseListenAddress('1:99999'), /--metrics needs/);
});

function sink(isTTY: boolean): Writable & { isTTY: boolean; text: string } {
  const s = new Writable({ write(chunk, _e, cb) { s.text += String(chunk); cb(); } }) as Writable & { isTTY: boolean; text: string };
  s.isTTY = isTTY;
  s.text = '';
  return s;
}

test('logger: levels filter, JSON when not a TTY, one readable line on a TTY, secrets never written', () => {
  const now = () => new Date('2026-01-02T03:04:05.000Z');
  const json = sink(false);
  const log = createLogger({ level: 'warn', stream: json, now });
  log({ msg: 'hidden' });
  log({ level: 'debug', msg: 'hidden too' });
  log({ level: 'warn', msg: 'store slow', ms: 12, store: 'etcd://root:hunter2@198.18.0.254:2379', key: 'c2VjcmV0', nested: { password: 'x', ok: 1 } });
  log({ level: 'error', msg: 'failed' });
  const lines = json.text.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.equal(lines.length, 2);
  assert.deepEqual(lines[0], { time: '2026-01-02T03:04:05.000Z', level: 'warn', msg: 'store slow', ms: 12, store: 'etcd://root:[redacted]@198.18.0.254:2379', key: '[redacted]', nested: { password: '[redacted]', ok: 1 } });
  assert.equal(lines[1]!.level, 'error');
  assert.doesNotMatch(json.text, /hunter2|c2VjcmV0/);
  const tty = sink(true);
  createLogger({ stream: tty, now })({ msg: 'reconciled kernel with store', ms: 3, removed: ['wf-br-1'], detail: 'two words' });
  assert.equal(tty.text, '2026-01-02T03:04:05.000Z INFO  reconciled kernel with store ms=3 removed=["wf-br-1"] detail="two words"\n');
});

test('metrics: counters, labelled series, histograms and collectors render in the text format', () => {
  const r = new Registry();
  const c = r.counter('weft_test_total', 'A test counter.');
  c.with({ method: 'Join', outcome: 'ok' }).inc();
  c.with({ method: 'Join', outcome: 'ok' }).inc(2);
  c.with({ method: 'a"b\\c', outcome: 'error' }).inc();
  const h = r.histogram('weft_test_duration_seconds', 'A test histogram.', [0.1, 1]).with({ method: 'Join' });
  h.observe(0.05);
  h.observe(0.5);
  h.observe(5);
  r.collect('weft_test_items', 'A gauge.', 'gauge', () => [[{ mode: 'overlay' }, 2]]);
  assert.equal(r.render(), [
    '# HELP weft_test_duration_seconds A test histogram.',
    '# TYPE weft_test_duration_seconds histogram',
    'weft_test_duration_seconds_bucket{method="Join",le="0.1"} 1',
    'weft_test_duration_seconds_bucket{method="Join",le="1"} 2',
    'weft_test_duration_seconds_bucket{method="Join",le="+Inf"} 3',
    'weft_test_duration_seconds_sum{method="Join"} 5.55',
    'weft_test_duration_seconds_count{method="Join"} 3',
    '# HELP weft_test_items A gauge.',
    '# TYPE weft_test_items gauge',
    'weft_test_items{mode="overlay"} 2',
    '# HELP weft_test_total A test counter.',
    '# TYPE weft_test_total counter',
    'weft_test_total{method="Join",outcome="ok"} 3',
    'weft_test_total{method="a\\"b\\\\c",outcome="error"} 1',
    '',
  ].join('\n'));
});

test('start-up: help, --version and VERB --help load no verb; verbs that need no etcd never load etcd3', { skip: (await run(['sh', '-c', 'command -v strace'])).code !== 0 ? 'strace is not installed' : undefined }, async () => {
  // Which files a run opens (deterministic, unlike its wall time on a shared machine).
  const opened = async (...args: string[]) => {
    const r = await run(['strace', '-f', '-e', 'trace=openat', process.execPath, cli, ...args]);
    return r.stderr.split('\n').filter((l) => /\.js"/.test(l) && !l.includes('ENOENT')).map((l) => /"([^"]+)"/.exec(l)![1]!);
  };
  for (const args of [['--version'], ['help'], ['daemon', '--help'], ['status', '--help']]) {
    const files = await opened(...args);
    assert.ok(!files.some((f) => f.includes('/commands/')), `${args.join(' ')} loaded a verb: ${files.join(' ')}`);
    assert.ok(files.length <= 8, `${args.join(' ')} opened ${files.length} modules`);
  }
  for (const args of [['link', 'ls', 'lo'], ['network', 'ls', '--state-dir', '/nonexistent'], ['endpoint', 'ls', '--state-dir', '/nonexistent']]) {
    const files = await opened(...args);
    assert.ok(!files.some((f) => f.includes('node_modules/etcd3') || f.includes('@grpc')), `${args.join(' ')} loaded etcd3`);
  }
});
