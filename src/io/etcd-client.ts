/**
 * The etcd v3 client (the etcd3 package: gRPC over HTTP/2). Its sockets are
 * opened here, so the store in control/ reaches the network through io/ like
 * every other layer. Loading it takes seconds (gRPC): import this module
 * only where an etcd store is configured.
 */
import { Etcd3, type IOptions } from 'etcd3';

export type { IOptions as EtcdClientOptions, Lease as EtcdLease, Namespace as EtcdNamespace } from 'etcd3';
export type EtcdClient = Etcd3;

/** A client for the endpoints in `options` (connects lazily, on the first call). */
export function openEtcdClient(options: IOptions): EtcdClient {
  return new Etcd3(options);
}
