/** The public shapes of IPVS services, destinations, stats and timeouts. */
import type { ForwardMethod, IpvsProtocol } from './constants.js';

/** A virtual service: either `address`+`port`+`protocol`, or `fwmark`. */
export interface IpvsServiceKey {
  family?: 4 | 6;
  protocol?: IpvsProtocol;
  address?: string;
  port?: number;
  fwmark?: number;
}

export interface IpvsServiceSpec extends IpvsServiceKey {
  /** Scheduler name; default rr. */
  scheduler?: string;
  flags?: number;
  /** Persistence timeout in seconds (with IPVS_SVC_F.PERSISTENT). */
  timeout?: number;
  netmask?: number;
}

export interface IpvsStats {
  conns: bigint; inPkts: bigint; outPkts: bigint; inBytes: bigint; outBytes: bigint;
  cps: bigint; inPps: bigint; outPps: bigint; inBps: bigint; outBps: bigint;
}

export interface IpvsService extends Required<Pick<IpvsServiceSpec, 'family' | 'scheduler' | 'flags' | 'timeout' | 'netmask'>> {
  protocol?: IpvsProtocol | number;
  address?: string;
  port?: number;
  fwmark?: number;
  pe?: string;
  stats?: IpvsStats;
}

export interface IpvsDestSpec {
  address: string;
  /** 0 keeps the service's port (fwmark services). */
  port?: number;
  weight?: number;
  forward?: ForwardMethod;
  upperThreshold?: number;
  lowerThreshold?: number;
}

export interface IpvsDest extends Required<IpvsDestSpec> {
  family: 4 | 6;
  activeConns: number;
  inactiveConns: number;
  persistentConns: number;
  stats?: IpvsStats;
}

export interface IpvsTimeouts {
  tcp: number;
  tcpFin: number;
  udp: number;
}
