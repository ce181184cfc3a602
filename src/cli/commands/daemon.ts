/**
 * `weft daemon [--config FILE] [options]`: serves Docker's plugin API until
 * SIGINT/SIGTERM. Options come from the flag table (src/cli/verbs.ts); a
 * config file holds the same options, one `name value` per line, so a
 * systemd unit needs no long command line. Command-line flags win.
 * The etcd settings also come from the environment (WEFT_ETCD_CA, WEFT_ETCD_CERT, WEFT_ETCD_KEY,
 * WEFT_ETCD_USER, WEFT_ETCD_PASSWORD_FILE, WEFT_ETCD_PASSWORD; WEFT_KEY_ROTATION,
 * WEFT_INSECURE_STORE_KEYS=1), the managed plugin's settable env; a password never
 * comes from the URL (ps shows command lines).
 */
import { readTextFile } from '../../io/files.js';
import { basename } from 'node:path';
import { DEFAULTS, Daemon, type DaemonOptions } from '../../daemon/daemon.js';
import { parseListenAddress } from '../../daemon/control.js';
import { type LogLevel, createLogger } from '../../log.js';
import { InvalidArgumentError } from '../../errors.js';
import { parseHostPort } from '../../dns/hostport.js';
import { intArg } from '../args.js';
import { type Parsed, bool, list, parseFlags, str } from '../flags.js';
import { flagsOf } from '../verbs.js';

export const summary = 'run the Docker network + IPAM plugin (embedded store by default)';

/** A config file as flags: `name value` (or `name = value`) per line, `#` comments, booleans alone. */
export function configArgs(path: string): string[] {
  let text: string;
  try {
    text = readTextFile(path);
  } catch (err) {
    throw new InvalidArgumentError(`--config ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  const known = new Map(flagsOf('daemon').map((f) => [f.name.slice(2), f]));
  const out: string[] = [];
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/(^|\s)#.*$/, '').trim();
    if (!line) return;
    const m = /^([a-z][a-z0-9-]*)\s*(?:=\s*|\s+)?(.*)$/.exec(line);
    const f = m ? known.get(m[1]!) : undefined;
    if (!m || !f || f.name === '--config') throw new InvalidArgumentError(`${path}:${i + 1}: unknown option ${JSON.stringify(m?.[1] ?? line)}`);
    const value = m[2]!.replace(/^"(.*)"$/, '$1');
    if (f.value === undefined) {
      if (value !== '' && value !== 'true') throw new InvalidArgumentError(`${path}:${i + 1}: ${m[1]} takes no value`);
      out.push(f.name);
    } else {
      if (value === '') throw new InvalidArgumentError(`${path}:${i + 1}: ${m[1]} needs a value`);
      out.push(f.name, value);
    }
  });
  return out;
}

export function parse(args: string[]): { opts: DaemonOptions; logLevel: LogLevel } {
  const flags = flagsOf('daemon');
  const first = parseFlags(flags, args);
  if (first.positionals.length) throw new InvalidArgumentError(`unexpected argument ${JSON.stringify(first.positionals[0])} (see weft daemon --help)`);
  const configPath = str(first, 'config') ?? process.env.WEFT_CONFIG;
  const p: Parsed = configPath ? parseFlags(flags, [...configArgs(configPath), ...args]) : first;
  const o: DaemonOptions = {
    socket: str(p, 'socket') ?? DEFAULTS.socket,
    stateDir: str(p, 'state-dir') ?? DEFAULTS.stateDir,
    store: str(p, 'store') ?? process.env.WEFT_STORE ?? DEFAULTS.store,
  };
  const local = str(p, 'local');
  if (local !== undefined) o.localAddress = local;
  const dev = str(p, 'underlay-dev');
  if (dev !== undefined) o.underlayDevice = dev;
  const host = str(p, 'host');
  if (host !== undefined) o.hostName = host;
  const instance = str(p, 'instance');
  if (instance !== undefined) o.instance = instance;
  const ttl = str(p, 'lease-ttl');
  if (ttl !== undefined) o.leaseTtl = intArg('--lease-ttl', ttl, 2, 3600);
  if (bool(p, 'no-dns')) o.dns = false;
  const ups = list(p, 'dns-upstream');
  if (ups.length) o.dnsUpstreams = ups.map((u) => parseHostPort(u));
  const docker = str(p, 'docker-socket');
  if (docker !== undefined) o.dockerSocket = docker;
  const reconcile = str(p, 'docker-reconcile');
  if (reconcile !== undefined) o.dockerReconcile = intArg('--docker-reconcile', reconcile, 0, 86400);
  const mesh = str(p, 'mesh');
  if (mesh !== undefined) o.mesh = mesh as NonNullable<DaemonOptions['mesh']>;
  const m = str(p, 'metrics');
  if (m !== undefined) o.metrics = parseListenAddress(m);
  const etcd = { ca: str(p, 'etcd-ca'), cert: str(p, 'etcd-cert'), key: str(p, 'etcd-key'), user: str(p, 'etcd-user'), passwordFile: str(p, 'etcd-password-file') };
  for (const [k, v] of Object.entries(etcd)) if (v !== undefined) (o.etcd ??= {})[k as keyof typeof etcd] = v;
  // The managed plugin is configured through its settable env.
  const rotation = str(p, 'key-rotation') ?? process.env.WEFT_KEY_ROTATION;
  if (rotation !== undefined) o.keyRotationSeconds = intArg('--key-rotation', rotation, 10, 365 * 24 * 3600);
  if (bool(p, 'insecure-store-keys') || process.env.WEFT_INSECURE_STORE_KEYS === '1') o.insecureStoreKeys = true;
  if (!o.socket.endsWith('.sock')) throw new InvalidArgumentError(`--socket must end in .sock (Docker derives the driver name from it), got ${o.socket}`);
  return { opts: o, logLevel: (str(p, 'log-level') ?? process.env.WEFT_LOG_LEVEL ?? 'info') as LogLevel };
}

export async function run(args: string[]): Promise<number> {
  const { opts, logLevel } = parse(args);
  const log = createLogger({ level: logLevel });
  const daemon = await Daemon.start(opts, log);
  const driver = basename(opts.socket, '.sock');
  process.stdout.write(
    `weft is serving Docker's network and IPAM plugin API on ${opts.socket} (store: ${daemon.store.kind}, state: ${opts.stateDir}).\n` +
    `Create a network with:\n  docker network create -d ${driver} --ipam-driver ${driver} --subnet 198.19.1.0/24 weftnet\n` +
    `  (modes: -o weft.mode=overlay|bridge|macvlan, macvlan needs -o parent=IFACE)\n` +
    `Stop with Ctrl-C; networks keep forwarding while weft is stopped. Health: weft status --state-dir ${opts.stateDir}\n`,
  );
  await new Promise<void>((resolve) => {
    const stop = () => resolve();
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  await daemon.stop();
  log({ msg: 'stopped' });
  return 0;
}
