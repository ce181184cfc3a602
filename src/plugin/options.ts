/**
 * Network options (`-o` on `docker network create`, Docker's
 * com.docker.network.generic) checked against the mode before anything is
 * stored: a typo in a `weft.*` key, or an option of another mode, is an
 * error rather than a network that silently does something else.
 */
import { NetworkOptionError } from '../errors.js';
import { type NetworkMode } from '../cnm/model.js';

const ALL_MODES: NetworkMode[] = ['overlay', 'bridge', 'macvlan'];

/** Every option weft reads, and the modes it applies to. */
export const NETWORK_OPTIONS: Record<string, NetworkMode[]> = {
  'weft.mode': ALL_MODES,
  'com.docker.network.driver.mtu': ALL_MODES,
  mtu: ALL_MODES,
  'weft.vni': ['overlay'],
  'weft.network': ['overlay'],
  'weft.masquerade': ['bridge'],
  'com.docker.network.bridge.enable_ip_masquerade': ['bridge'],
  parent: ['macvlan'],
  macvlan_mode: ['macvlan'],
};

/**
 * Refuses unknown `weft.*` keys, options of another mode, and Docker's own
 * driver options weft does not implement (com.docker.network.bridge.*,
 * macvlan/ipvlan/overlay keys). Other keys pass: they belong to no driver.
 */
export function checkNetworkOptions(options: Record<string, string>): void {
  const mode = (options['weft.mode'] ?? 'overlay') as NetworkMode;
  for (const key of Object.keys(options)) {
    const modes = NETWORK_OPTIONS[key];
    if (modes) {
      if (ALL_MODES.includes(mode) && !modes.includes(mode)) {
        throw new NetworkOptionError(`option ${key} applies to weft.mode=${modes.join('|')}, not to ${mode}`);
      }
      continue;
    }
    if (key.startsWith('weft.')) {
      const known = Object.keys(NETWORK_OPTIONS).filter((k) => k.startsWith('weft.'));
      throw new NetworkOptionError(`unknown option ${key} (weft knows ${known.join(', ')})`);
    }
    if (/^com\.docker\.network\.(bridge|macvlan|ipvlan|overlay)\./.test(key) || key === 'ipvlan_mode') {
      throw new NetworkOptionError(`option ${key} is not supported by weft`);
    }
  }
}
