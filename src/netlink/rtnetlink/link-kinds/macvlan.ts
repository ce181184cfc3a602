/** macvlan kind data (IFLA_MACVLAN_*, docs/overlay.md, docs/netlink.md). */
import { type Attr, type AttrWriter, read } from '../../attrs.js';
import {
  IFLA_MACVLAN_FLAGS, IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE, MACVLAN_MODE_PASSTHRU, MACVLAN_MODE_PRIVATE,
  MACVLAN_MODE_SOURCE, MACVLAN_MODE_VEPA,
} from '../constants.js';
import { LinkConfigError } from '../../../errors.js';

export type MacvlanMode = 'private' | 'vepa' | 'bridge' | 'passthru' | 'source';

const MODES: ReadonlyMap<MacvlanMode, number> = new Map([
  ['private', MACVLAN_MODE_PRIVATE], ['vepa', MACVLAN_MODE_VEPA], ['bridge', MACVLAN_MODE_BRIDGE],
  ['passthru', MACVLAN_MODE_PASSTHRU], ['source', MACVLAN_MODE_SOURCE],
]);

export interface MacvlanOptions {
  /** Default `bridge`, as Docker's driver. */
  mode?: MacvlanMode;
  nopromisc?: boolean;
}

export interface MacvlanInfo {
  mode?: MacvlanMode;
  flags?: number;
}

export function macvlanModeNumber(name: string, mode: string): number {
  const n = MODES.get(mode as MacvlanMode);
  if (n === undefined) throw new LinkConfigError(name, 'macvlan mode', `must be one of ${[...MODES.keys()].join(', ')}, got ${JSON.stringify(mode)}`);
  return n;
}

export function encodeMacvlan(w: AttrWriter, name: string, o: MacvlanOptions): void {
  w.u32(IFLA_MACVLAN_MODE, macvlanModeNumber(name, o.mode ?? 'bridge'));
  if (o.nopromisc !== undefined) w.u16(IFLA_MACVLAN_FLAGS, o.nopromisc ? 1 : 0);
}

export function decodeMacvlan(attrs: Attr[]): MacvlanInfo {
  const o: MacvlanInfo = {};
  for (const { type, data } of attrs) {
    if (type === IFLA_MACVLAN_MODE) {
      const n = read.u32(data);
      for (const [k, v] of MODES) if (v === n) o.mode = k;
    } else if (type === IFLA_MACVLAN_FLAGS) o.flags = read.u16(data);
  }
  return o;
}

export function macvlanJson(o: MacvlanInfo): Record<string, unknown> {
  const j: Record<string, unknown> = {};
  if (o.mode) j.mode = o.mode;
  if (o.flags && o.flags & 1) j.nopromisc = true;
  return j;
}
