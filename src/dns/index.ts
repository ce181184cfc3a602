/** Embedded DNS: records, Docker-semantics resolver, forwarder, listeners. */
export { DnsService, type DnsServiceOptions } from './service.js';
export { DnsListener, type DnsStats, type ListenOptions } from './listener.js';
export { InvalidRecordError } from '../errors.js';
export { MemoryDnsRecords, endpointRecords, serviceRecords, normalizeRecord, type DnsRecords, type NameRecord } from './records.js';
export { DnsResolver, DEFAULT_TTL, type Resolution } from './resolver.js';
export { parseHostPort, formatHostPort, type HostPort } from './hostport.js';
export { type NetworkScope } from './scope.js';
export { FileDnsRecords, parseHostsFile } from './store-file.js';
export { DockerNameSource, containerRecords, type DockerSourceOptions, type NetworkFilter, type ContainerInspect } from './docker-source.js';
