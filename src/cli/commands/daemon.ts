/**
 * `weft daemon [--socket PATH] [--state-dir DIR] [--store embedded|etcd://…]
 *  [--local ADDR] [--underlay-dev IF] [--host NAME] [--instance NAME] [--lease-ttl SECONDS]
 *  [--etcd-ca PEM] [--etcd-cert PEM] [--etcd-key PEM] [--etcd-user NAME] [--etcd-password-file FILE]
 *  [--key-rotation SECONDS] [--insecure-store-keys]`: serves Docker's plugin API until SIGINT/SIGTERM.
 * Every etcd setting also comes from the environment (WEFT_ETCD_CA, WEFT_ETCD_CERT, WEFT_ETCD_KEY,
 * WEFT_ETCD_USER, WEFT_ETCD_PASSWORD_FILE, WEFT_ETCD_PASSWORD; WEFT_KEY_ROTATION, WEFT_INSECURE_STORE_KEYS=1),
 * the managed plugin's settable env.
 */
import { basename } from 'node:path';
import { DEFAULTS, Daemon, type DaemonOptions } from '../../daemon/daemon.js';
import { jsonLogger } from '../../daemon/log.js';
import { InvalidArgumentError } from '../../errors.js';
import { parseHostPort } from '../../dns/hostport.js';
import { intArg } from '../args.js';

export const summary = 'run the Docker network + IPAM plugin (embedded store by default)';

function parse(args: string[]): DaemonOptions {
  const o: DaemonOptions = { socket: DEFAULTS.socket, stateDir: DEFAULTS.stateDir, store: process.env.WEFT_STORE ?? DEFAULTS.store };
  // The managed plugin is configured through its settable env.
  if (process.env.WEFT_KEY_ROTATION) o.keyRotationSeconds = intArg('WEFT_KEY_ROTATION', process.env.WEFT_KEY_ROTATION, 10, 365 * 24 * 3600);
  if (process.env.WEFT_INSECURE_STORE_KEYS === '1') o.insecureStoreKeys = true;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const value = () => {
      const v = args[++i];
      if (v === undefined || v.startsWith('--')) throw new InvalidArgumentError(`${a} needs a value`);
      return v;
    };
    switch (a) {
      case '--socket': o.socket = value(); break;
      case '--state-dir': o.stateDir = value(); break;
      case '--store': o.store = value(); break;
      case '--local': o.localAddress = value(); break;
      case '--underlay-dev': o.underlayDevice = value(); break;
      case '--host': o.hostName = value(); break;
      case '--instance': o.instance = value(); break;
      case '--lease-ttl': o.leaseTtl = intArg('--lease-ttl', value(), 2, 3600); break;
      case '--no-dns': o.dns = false; break;
      case '--dns-upstream': (o.dnsUpstreams ??= []).push(parseHostPort(value())); break;
      case '--docker-socket': o.dockerSocket = value(); break;
      case '--etcd-ca': (o.etcd ??= {}).ca = value(); break;
      case '--etcd-cert': (o.etcd ??= {}).cert = value(); break;
      case '--etcd-key': (o.etcd ??= {}).key = value(); break;
      case '--etcd-user': (o.etcd ??= {}).user = value(); break;
      case '--etcd-password-file': (o.etcd ??= {}).passwordFile = value(); break;
      case '--key-rotation': o.keyRotationSeconds = intArg('--key-rotation', value(), 10, 365 * 24 * 3600); break;
      case '--insecure-store-keys': o.insecureStoreKeys = true; break;
      case '--mesh': {
        const m = value();
        if (m !== 'auto' && m !== 'ipvs' && m !== 'nft' && m !== 'off') throw new InvalidArgumentError(`--mesh must be auto, ipvs, nft or off, got ${m}`);
        o.mesh = m;
        break;
      }
      default: throw new InvalidArgumentError(`unknown option ${a} (see: weft daemon --socket PATH --state-dir DIR --store embedded|etcd://HOST:PORT --local ADDR --underlay-dev IF --host NAME --instance NAME --lease-ttl SECONDS --no-dns --dns-upstream ADDR[:PORT] --docker-socket PATH --mesh auto|ipvs|nft|off --etcd-ca PEM --etcd-cert PEM --etcd-key PEM --etcd-user NAME --etcd-password-file FILE (the etcd password comes from that file or WEFT_ETCD_PASSWORD, never the URL: ps shows command lines) --key-rotation SECONDS --insecure-store-keys)`);
    }
  }
  if (!o.socket.endsWith('.sock')) throw new InvalidArgumentError(`--socket must end in .sock (Docker derives the driver name from it), got ${o.socket}`);
  return o;
}

export async function run(args: string[]): Promise<number> {
  const opts = parse(args);
  const log = jsonLogger();
  const daemon = await Daemon.start(opts, log);
  const driver = basename(opts.socket, '.sock');
  process.stdout.write(
    `weft is serving Docker's network and IPAM plugin API on ${opts.socket} (store: ${daemon.store.kind}, state: ${opts.stateDir}).\n` +
    `Create a network with:\n  docker network create -d ${driver} --ipam-driver ${driver} --subnet 198.19.1.0/24 weftnet\n` +
    `  (modes: -o weft.mode=overlay|bridge|macvlan, macvlan needs -o parent=IFACE)\n` +
    `Stop with Ctrl-C; networks keep forwarding while weft is stopped.\n`,
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
