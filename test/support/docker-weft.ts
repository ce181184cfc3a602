/**
 * The single-engine end-to-end setup shared by the e2e files: a lab host with
 * an isolated dockerd and a `weft daemon` serving it as a legacy socket
 * plugin under a unique driver name. `destroy()` undoes all of it, in the
 * order that leaves nothing behind (dockerd first, so it releases endpoints).
 *
 *   let lab, host, docker, weft, driver;
 *   before(async () => ({ lab, host, docker, weft, driver } = await DockerWeft.start('d1')));
 */
import { type DockerDaemon, pluginSocketPath, removePluginSocket, startDocker, uniquePluginName } from './docker.js';
import { Lab, type LabHost } from './lab.js';
import { WeftDaemon } from './weft-daemon.js';

export class DockerWeft {
  private constructor(readonly lab: Lab, readonly host: LabHost, readonly docker: DockerDaemon, readonly weft: WeftDaemon, readonly driver: string) {}

  /** `weftArgs`: more `weft daemon` arguments. Containers get a lab address as DNS server (nothing public). */
  static async start(hostName: string, weftArgs: string[] = []): Promise<DockerWeft> {
    const lab = await Lab.create();
    const driver = uniquePluginName('weft');
    let docker: DockerDaemon | undefined;
    let weft: WeftDaemon | undefined;
    try {
      const host = await lab.host(hostName);
      docker = await startDocker({ netns: host.netns, dns: '198.18.0.53' });
      weft = new WeftDaemon({
        netns: host.netns, socket: pluginSocketPath(driver), instance: lab.prefix, dockerSocket: docker.socket,
        ...(weftArgs.length ? { extraArgs: weftArgs } : {}),
      });
      await weft.start();
      return new DockerWeft(lab, host, docker, weft, driver);
    } catch (err) {
      await docker?.stop();
      await weft?.destroy();
      removePluginSocket(driver);
      await lab.destroy();
      throw err;
    }
  }

  async destroy(): Promise<void> {
    await this.docker.stop();
    await this.weft.destroy();
    removePluginSocket(this.driver);
    await this.lab.destroy();
  }
}
