/**
 * weft dns serve --listen ADDR[:PORT] [--netns NS] [--hosts FILE] [--network NAME]...
 *                [--upstream ADDR[:PORT]]... [--ttl N] [--state-dir DIR] [--rate-limit QPS]
 *                [--allow CIDR]... [--max-udp BYTES] [--no-tcp] [--ndots-local]
 * weft dns add|rm --network NET --name NAME (--address IP [--ptr] | --cname T | --txt TEXT | --srv PRIO:WEIGHT:PORT:TARGET) [--ttl N] [--state-dir DIR]
 * weft dns ls [--network NET] [--state-dir DIR] [--json]
 *
 * Records live in <state-dir>/dns-records.json (default /var/lib/weft); see src/dns/store-file.ts.
 */
import { readTextFile } from '../../io/files.js';
import { InvalidArgumentError } from '../../errors.js';
import { DnsService, FileDnsRecords, InvalidRecordError, MemoryDnsRecords, normalizeRecord, parseHostPort, parseHostsFile, type NameRecord } from '../../dns/index.js';
import { commonFlags, intArg } from '../args.js';
import { parseFlags } from '../flags.js';
import { flagsOf } from '../verbs.js';

export const summary = 'embedded DNS: serve names per network, manage records (serve|add|rm|ls)';

const DEFAULT_STATE_DIR = '/var/lib/weft';

interface Parsed {
  single: Map<string, string>;
  multi: Map<string, string[]>;
  bools: Set<string>;
}

function parse(rest: string[], allowed: string[]): Parsed {
  const p: Parsed = { single: new Map(), multi: new Map(), bools: new Set() };
  const parsed = parseFlags(flagsOf('dns').filter((f) => allowed.includes(f.name)), rest);
  if (parsed.positionals.length) throw new InvalidArgumentError(`unknown argument ${JSON.stringify(parsed.positionals[0])}`);
  for (const [k, v] of parsed.values) {
    if (Array.isArray(v)) p.multi.set(`--${k}`, v);
    else if (typeof v === 'string') p.single.set(`--${k}`, v);
    else p.bools.add(`--${k}`);
  }
  return p;
}

/** A record from the command line, validated: a bad one is a bad argument (exit 2), not a failure. */
function recordFromArgs(p: Parsed): NameRecord {
  const r = rawRecordFromArgs(p);
  try {
    return normalizeRecord(r);
  } catch (err) {
    if (err instanceof InvalidRecordError) throw new InvalidArgumentError(err.message);
    throw err;
  }
}

function rawRecordFromArgs(p: Parsed): NameRecord {
  const network = p.multi.get('--network')?.[0];
  const name = p.single.get('--name');
  if (!network || !name) throw new InvalidArgumentError('--network and --name are required');
  const ttl = p.single.has('--ttl') ? { ttl: intArg('--ttl', p.single.get('--ttl'), 0, 0x7fffffff) } : {};
  const base = { network, name, ...ttl };
  const address = p.single.get('--address');
  if (address !== undefined) {
    const type = address.includes(':') ? 'AAAA' : 'A';
    return { ...base, type, address, ...(p.bools.has('--ptr') ? { ptr: true } : {}) };
  }
  if (p.single.has('--cname')) return { ...base, type: 'CNAME', target: p.single.get('--cname')! };
  if (p.multi.has('--txt')) return { ...base, type: 'TXT', text: p.multi.get('--txt')! };
  const srv = p.single.get('--srv');
  if (srv !== undefined) {
    const m = /^(\d+):(\d+):(\d+):(.+)$/.exec(srv);
    if (!m) throw new InvalidArgumentError('--srv needs PRIO:WEIGHT:PORT:TARGET');
    return { ...base, type: 'SRV', priority: Number(m[1]), weight: Number(m[2]), port: Number(m[3]), target: m[4]! };
  }
  throw new InvalidArgumentError('one of --address, --cname, --txt, --srv is required');
}

function show(r: NameRecord): string {
  switch (r.type) {
    case 'A':
    case 'AAAA':
      return `${r.network}\t${r.name}\t${r.type}\t${r.address}${r.ptr ? '\tptr' : ''}`;
    case 'CNAME':
    case 'PTR':
      return `${r.network}\t${r.name}\t${r.type}\t${r.target}`;
    case 'SRV':
      return `${r.network}\t${r.name}\tSRV\t${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case 'TXT':
      return `${r.network}\t${r.name}\tTXT\t${r.text.map((t) => JSON.stringify(t)).join(' ')}`;
  }
}

async function serve(rest: string[], netns: string | undefined, json: boolean): Promise<number> {
  const p = parse(rest, ['--listen', '--hosts', '--network', '--upstream', '--ttl', '--state-dir', '--rate-limit', '--allow', '--max-udp', '--no-tcp', '--ndots-local']);
  const listenText = p.single.get('--listen');
  if (!listenText) throw new InvalidArgumentError('--listen ADDR[:PORT] is required');
  const listen = parseHostPort(listenText, 53);
  const networks = p.multi.get('--network') ?? [];
  const stateDir = p.single.get('--state-dir');
  const records = stateDir ? FileDnsRecords.open(stateDir) : new MemoryDnsRecords();
  const hostsNet = networks[0] ?? 'default';
  const hostsFile = p.single.get('--hosts');
  let hostsRecords: NameRecord[] = [];
  if (hostsFile) {
    let text: string;
    try {
      text = readTextFile(hostsFile);
    } catch (err) {
      throw new InvalidArgumentError(`--hosts ${hostsFile}: ${(err as Error).message}`);
    }
    const { records: recs, warnings } = parseHostsFile(text, hostsNet);
    for (const w of warnings) process.stderr.write(`weft dns: ${hostsFile}: ${w}\n`);
    hostsRecords = recs;
  }
  // Hosts entries are served, not persisted into the state file.
  const mem = stateDir ? new MemoryDnsRecords([...records.list(), ...hostsRecords]) : records;
  if (!stateDir) for (const r of hostsRecords) mem.add(r);
  const ttl = p.single.has('--ttl') ? intArg('--ttl', p.single.get('--ttl'), 0, 0x7fffffff) : undefined;
  const rate = p.single.has('--rate-limit') ? intArg('--rate-limit', p.single.get('--rate-limit'), 0, 10_000_000) : undefined;
  const dns = new DnsService({
    records: mem,
    ...(ttl === undefined ? {} : { ttl }),
    upstreams: (p.multi.get('--upstream') ?? []).map((u) => parseHostPort(u, 53)),
    ...(rate === undefined ? {} : { rateLimit: rate === 0 ? null : { qps: rate } }),
    ...(p.single.has('--max-udp') ? { maxUdpResponse: intArg('--max-udp', p.single.get('--max-udp'), 512, 4096) } : {}),
  });
  const served = networks.length > 0 ? networks : [...new Set([hostsNet, ...mem.list().map((r) => r.network)])];
  const listener = await dns.listen({
    address: listen.address, port: listen.port, networks: served,
    ...(netns === undefined ? {} : { netns }),
    ...(p.multi.has('--allow') ? { allow: p.multi.get('--allow')! } : {}),
    ...(p.bools.has('--no-tcp') ? { tcp: false } : {}),
    ...(p.bools.has('--ndots-local') ? { singleLabelNoForward: true } : {}),
  });
  process.stderr.write(`weft dns: listening on ${listener.address}:${listener.port}${netns ? ` in netns ${netns}` : ''} for ${served.join(', ')} (${mem.list().length} records)\n`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  const stats = dns.stats();
  await dns.close();
  if (json) process.stdout.write(`${JSON.stringify(stats)}\n`);
  return 0;
}

export async function run(args: string[]): Promise<number> {
  const { netns, json, rest } = commonFlags(args);
  const [verb, ...more] = rest;
  switch (verb) {
    case 'serve':
      return serve(more, netns, json);
    case 'add':
    case 'rm': {
      const p = parse(more, ['--network', '--name', '--address', '--ptr', '--cname', '--txt', '--srv', '--ttl', '--state-dir']);
      const store = FileDnsRecords.open(p.single.get('--state-dir') ?? DEFAULT_STATE_DIR);
      const rec = recordFromArgs(p);
      const changed = verb === 'add' ? store.add(rec) : store.remove(rec);
      if (json) process.stdout.write(`${JSON.stringify({ changed })}\n`);
      return 0;
    }
    case 'ls': {
      const p = parse(more, ['--network', '--state-dir']);
      const store = FileDnsRecords.open(p.single.get('--state-dir') ?? DEFAULT_STATE_DIR);
      const list = store.list(p.multi.get('--network')?.[0]);
      if (json) process.stdout.write(`${JSON.stringify(list)}\n`);
      else for (const r of list) process.stdout.write(`${show(r)}\n`);
      return 0;
    }
    default:
      throw new InvalidArgumentError(`usage: weft dns serve|add|rm|ls ... (got ${JSON.stringify(verb ?? '')})`);
  }
}
