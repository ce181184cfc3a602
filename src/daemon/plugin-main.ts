/**
 * Entry point of the managed (v2) plugin (packaging/plugin/config.json):
 * the daemon configured from the environment, serving the plugin socket in
 * the rootfs Docker mounts for it. Stops on SIGTERM (`docker plugin disable`)
 * leaving the kernel as it is, like `weft daemon`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { probeMeshBackend } from '../dataplane/mesh.js';
import { Daemon } from './daemon.js';
import { createLogger } from './log.js';
import { optionsFromEnv } from './plugin-env.js';

/**
 * Docker mounts /proc/sys read-only in a plugin; weft writes net sysctls
 * (forwarding for the mesh, proxy ARP), so it remounts it writable
 * (CAP_SYS_ADMIN, inside the plugin's own mount namespace).
 */
function writableProcSys(): void {
  const ro = readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .some((l) => { const f = l.split(' '); return f[4] === '/proc/sys' && f[5]!.split(',').includes('ro'); });
  if (ro) execFileSync('mount', ['-o', 'remount,rw,bind', '/proc/sys'], { stdio: 'ignore' });
}

async function main(): Promise<void> {
  const opts = optionsFromEnv(process.env);
  const log = createLogger({ level: opts.logLevel, format: 'json' });
  writableProcSys();
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
