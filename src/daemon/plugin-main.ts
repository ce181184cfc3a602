/**
 * Entry point of the managed (v2) plugin (packaging/plugin/config.json):
 * the daemon configured from the environment, serving the plugin socket in
 * the rootfs Docker mounts for it. Stops on SIGTERM (`docker plugin disable`)
 * leaving the kernel as it is, like `weft daemon`.
 */
import { probeMeshBackend } from '../dataplane/mesh.js';
import { makeProcSysWritable } from '../io/sysctl.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { optionsFromEnv } from './plugin-env.js';

async function main(): Promise<void> {
  const opts = optionsFromEnv(process.env);
  const log = createLogger({ level: opts.logLevel, format: 'json' });
  // Docker mounts /proc/sys read-only in a plugin.
  await makeProcSysWritable();
  if (opts.dataScope === 'global' && (await probeMeshBackend().catch(() => 'nft')) === 'nft') {
    log({
      msg: 'no IPVS in this kernel: Docker\'s VIP load balancing cannot serve swarm services; create them with --endpoint-mode dnsrr ' +
        '(weft\'s routing mesh publishes their ports with nftables)', level: 'warn',
    });
  }
  const daemon = await Daemon.start({ ...opts, listenEarly: true }, log);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await daemon.stop();
  log({ msg: 'stopped' });
}

main().catch((err: Error) => {
  process.stderr.write(`weft plugin: ${err.message}\n`);
  process.exit(1);
});
