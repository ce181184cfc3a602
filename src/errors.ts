/**
 * The error catalogue: every error class weft throws on purpose and every
 * code it can carry, in this one file (docs/errors.md says when each is
 * thrown and what a caller does). Callers branch on `code` or the class,
 * never on `message`; messages reach Docker users as `{"Err": …}` and stay
 * stable too.
 *
 * Codes start with ERR_WEFT_ so they are never mistaken for a kernel errno.
 * An error caused by a failed system call or a netlink request carries the
 * errno name in its `errno` field ('EEXIST', …): branch with `errnoOf` or
 * `isErrno`, not on `code`. Node's own system errors (fs, net) are not
 * WeftErrors and keep their errno name in `code`.
 *
 * This file imports nothing: every layer, wire/ included, imports it.
 * test/unit/errors-catalogue.test.ts keeps it the only home of these classes.
 */

/** Every code, in the order of docs/errors.md. */
export const ERROR_CODES = [
  // generic
  'ERR_WEFT_INVALID_ARGUMENT', 'ERR_WEFT_NOT_FOUND', 'ERR_WEFT_TIMEOUT', 'ERR_WEFT_INTERNAL',
  // wire
  'ERR_WEFT_DECODE', 'ERR_WEFT_DNS_SHORT', 'ERR_WEFT_DNS_LABEL', 'ERR_WEFT_DNS_NAME_LONG', 'ERR_WEFT_DNS_POINTER',
  'ERR_WEFT_DNS_COUNT', 'ERR_WEFT_DNS_RDATA', 'ERR_WEFT_DNS_OPT', 'ERR_WEFT_DNS_TRAILING', 'ERR_WEFT_DNS_ENCODE',
  'ERR_WEFT_NOT_A_CAPTURE', 'ERR_WEFT_CAPTURE_VERSION', 'ERR_WEFT_CAPTURE_TRUNCATED', 'ERR_WEFT_CAPTURE_CORRUPT',
  // netlink
  'ERR_WEFT_NETLINK', 'ERR_WEFT_NETLINK_DECODE', 'ERR_WEFT_NETLINK_DUMP_INTERRUPTED', 'ERR_WEFT_NETLINK_TIMEOUT',
  'ERR_WEFT_LINK_EXISTS', 'ERR_WEFT_LINK_NOT_FOUND', 'ERR_WEFT_LINK_CONFIG', 'ERR_WEFT_ADDRESS', 'ERR_WEFT_ROUTE',
  'ERR_WEFT_NEIGHBOUR', 'ERR_WEFT_FDB', 'ERR_WEFT_IPVS_REPLY',
  // io
  'ERR_WEFT_SYSCALL', 'ERR_WEFT_UNSUPPORTED_PLATFORM', 'ERR_WEFT_NETNS_NOT_FOUND', 'ERR_WEFT_NETNS_OPEN',
  'ERR_WEFT_NETNS_OPERATION', 'ERR_WEFT_SYSCTL', 'ERR_WEFT_NFT', 'ERR_WEFT_NFT_MISSING', 'ERR_WEFT_SOCKET_CLOSED',
  'ERR_WEFT_SOCKET_POLL', 'ERR_WEFT_SOCKET_IN_USE', 'ERR_WEFT_NOT_A_SOCKET', 'ERR_WEFT_DAEMON_UNREACHABLE',
  'ERR_WEFT_CLAIMED', 'ERR_WEFT_DOCKER_API', 'ERR_WEFT_FILE_WRITE', 'ERR_WEFT_JOURNAL_CORRUPT',
  'ERR_WEFT_JOURNAL_WRITE', 'ERR_WEFT_STATE_FILE',
  // dataplane
  'ERR_WEFT_FDB_ENTRY', 'ERR_WEFT_WORKER_EXIT', 'ERR_WEFT_MESH_STATE', 'ERR_WEFT_ENCRYPTION_UNAVAILABLE',
  // dns
  'ERR_WEFT_DNS_RECORD',
  // cnm
  'ERR_WEFT_NETWORK_NOT_FOUND', 'ERR_WEFT_ENDPOINT_NOT_FOUND', 'ERR_WEFT_PORT_IN_USE', 'ERR_WEFT_NETWORK_OPTION',
  'ERR_WEFT_IPAM_INVALID_REQUEST', 'ERR_WEFT_IPAM_NO_POOL', 'ERR_WEFT_IPAM_POOL_OVERLAP', 'ERR_WEFT_IPAM_OUT_OF_POOL',
  'ERR_WEFT_IPAM_ADDRESS_IN_USE', 'ERR_WEFT_IPAM_NO_ADDRESS',
  // plugin
  'ERR_WEFT_PLUGIN_REQUEST', 'ERR_WEFT_PLUGIN_METHOD',
  // control
  'ERR_WEFT_STORE_UNAVAILABLE', 'ERR_WEFT_STORE_AUTH', 'ERR_WEFT_INSECURE_STORE',
  // daemon, trace, cli
  'ERR_WEFT_STATE_MISSING', 'ERR_WEFT_FILTER_SYNTAX', 'ERR_WEFT_REPAIR',
] as const;

export type WeftErrorCode = (typeof ERROR_CODES)[number];

/** The base of every error weft throws on purpose; only the classes below extend it. */
export abstract class WeftError extends Error {
  readonly code: WeftErrorCode;
  constructor(code: WeftErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** The kernel errno name ('EEXIST', …) a WeftError carries (NetlinkError, SysError, RtnlObjectError, NetnsNotFoundError), else undefined. */
export function errnoOf(err: unknown): string | undefined {
  if (!(err instanceof WeftError)) return undefined;
  const errno = (err as { errno?: unknown }).errno;
  return typeof errno === 'string' ? errno : undefined;
}

/** True when the kernel refused a netlink request with one of these errno names. */
export function isErrno(err: unknown, ...names: string[]): err is NetlinkError {
  return err instanceof NetlinkError && names.includes(err.errno);
}

function where(netns: string | undefined): string {
  return netns ? ` in netns ${netns}` : '';
}

function parentDir(path: string): string {
  const i = path.lastIndexOf('/');
  return i > 0 ? path.slice(0, i) : i === 0 ? '/' : '.';
}

// ---- generic ----

/** Bad input from a user, a config file or a remote peer (CLI args, requests). */
export class InvalidArgumentError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_INVALID_ARGUMENT', message);
  }
}

/** A named object (link, network, endpoint, ...) does not exist. */
export class NotFoundError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_NOT_FOUND', message);
  }
}

/** The kernel has no such generic netlink family (module not loaded or not built). */
export class FamilyNotFoundError extends NotFoundError {
  constructor(readonly family: string) {
    super(`generic netlink family ${JSON.stringify(family)} not available in this kernel`);
  }
}

/** A peer (HTTP server, TCP listener) did not answer in time. */
export class TimeoutError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_TIMEOUT', message);
  }
}

// ---- wire ----

export type DecodeReason =
  | 'truncated' // fewer bytes than the header or a length field needs
  | 'bad-length' // a length field is impossible (below the minimum, not a multiple ...)
  | 'bad-version' // IP version nibble does not match
  | 'bad-checksum' // only when the caller asked for verification
  | 'invalid-header' // reserved bits set, required flag clear (VXLAN), bad hardware sizes (ARP)
  | 'too-many-headers' // a chain (IPv6 extensions, VLAN tags, nested tunnels) exceeds its bound
  | 'bad-option' // a TLV option with zero or overrunning length
  | 'unsupported'; // well-formed but outside what this codec models

/**
 * The one error a wire decoder throws: malformed or unsupported bytes.
 * `layer` names the protocol ('ipv4', 'vxlan' ...), `offset` is the byte
 * offset in the buffer handed to the decoder where the problem was found,
 * and `reason` is one of a small fixed set so callers can count drops by
 * reason without parsing messages. Hot paths that must not throw use the
 * `check*` functions, which return the same reason strings (or null).
 */
export class DecodeError extends WeftError {
  readonly layer: string;
  readonly offset: number;
  readonly reason: DecodeReason;
  constructor(layer: string, offset: number, reason: DecodeReason, detail?: string) {
    super('ERR_WEFT_DECODE', `${layer}: ${reason} at offset ${offset}${detail ? `: ${detail}` : ''}`);
    this.layer = layer;
    this.offset = offset;
    this.reason = reason;
  }
}

export type DnsDecodeCode =
  | 'ERR_WEFT_DNS_SHORT' // message or field runs past the end
  | 'ERR_WEFT_DNS_LABEL' // label longer than 63 or reserved label type (01/10)
  | 'ERR_WEFT_DNS_NAME_LONG' // expanded name longer than 255 octets
  | 'ERR_WEFT_DNS_POINTER' // compression pointer not strictly backwards / into the header
  | 'ERR_WEFT_DNS_COUNT' // a section count that cannot fit in the message
  | 'ERR_WEFT_DNS_RDATA' // rdata length disagrees with the record's own layout
  | 'ERR_WEFT_DNS_OPT' // OPT record misplaced, duplicated or malformed
  | 'ERR_WEFT_DNS_TRAILING'; // bytes after the last record

/**
 * A malformed DNS message. Every malformed input ends in one of these (never
 * a RangeError or a hang); `code` says which rule broke so the server can
 * answer FORMERR and tests can assert the reason.
 */
export class DnsDecodeError extends WeftError {
  declare readonly code: DnsDecodeCode;
  /** Byte offset where decoding failed. */
  readonly offset: number;
  constructor(code: DnsDecodeCode, message: string, offset: number) {
    super(code, `${message} at offset ${offset}`);
    this.offset = offset;
  }
}

/** Encode-side misuse of the DNS codec (a value that cannot be put on the wire). */
export class DnsEncodeError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_DNS_ENCODE', message);
  }
}

export type CaptureErrorCode =
  | 'ERR_WEFT_NOT_A_CAPTURE' // not a pcap/pcapng file (short or unknown magic)
  | 'ERR_WEFT_CAPTURE_VERSION' // unsupported format version
  | 'ERR_WEFT_CAPTURE_TRUNCATED' // file ends inside a record or block
  | 'ERR_WEFT_CAPTURE_CORRUPT'; // a length or index that cannot be right

/** A capture file that cannot be read further. `offset` is the file byte where it went wrong. */
export class CaptureError extends WeftError {
  declare readonly code: CaptureErrorCode;
  readonly offset: number;
  /** Index of the packet record (0-based) being read, when known. */
  readonly record: number;
  constructor(code: CaptureErrorCode, message: string, offset: number, record = -1) {
    super(code, `${message} (offset ${offset}${record >= 0 ? `, record ${record}` : ''})`);
    this.offset = offset;
    this.record = record;
  }
}

// ---- netlink ----

/**
 * The kernel refused a netlink request. Carries the errno name (`errno`,
 * 'EEXIST'), its number, the kernel's extended-ACK text and attribute offset
 * when it sent them, and the request's message type.
 */
export class NetlinkError extends WeftError {
  readonly errno: string;
  readonly errnoNumber: number;
  readonly extackMessage: string | undefined;
  readonly extackOffset: number | undefined;
  readonly requestType: number;

  constructor(errno: string, errnoNumber: number, requestType: number, what: string, extack?: { message?: string; offset?: number }) {
    const detail = extack?.message ? `: ${extack.message}` : '';
    super('ERR_WEFT_NETLINK', `${what} failed: ${errno}${detail}`);
    this.errno = errno;
    this.errnoNumber = errnoNumber;
    this.requestType = requestType;
    this.extackMessage = extack?.message;
    this.extackOffset = extack?.offset;
  }
}

/** Bytes from the kernel (or anyone) that are not well-formed netlink. */
export class NetlinkDecodeError extends WeftError {
  readonly offset: number;
  constructor(reason: string, offset: number) {
    super('ERR_WEFT_NETLINK_DECODE', `malformed netlink data at offset ${offset}: ${reason}`);
    this.offset = offset;
  }
}

/** A dump was changed while it ran (NLM_F_DUMP_INTR); retrying is safe. */
export class DumpInterruptedError extends WeftError {
  constructor(what: string) {
    super('ERR_WEFT_NETLINK_DUMP_INTERRUPTED', `${what}: dump interrupted by a concurrent change, retry`);
  }
}

/** No complete answer arrived in time (a dump that never ends, a lost ACK). */
export class NetlinkTimeoutError extends WeftError {
  constructor(what: string, ms: number) {
    super('ERR_WEFT_NETLINK_TIMEOUT', `${what}: no complete netlink reply within ${ms} ms`);
  }
}

/** A link with this name already exists (EEXIST on create). */
export class LinkExistsError extends WeftError {
  readonly link: string;
  readonly netns: string | undefined;
  constructor(link: string, netns?: string) {
    super('ERR_WEFT_LINK_EXISTS', `link ${link}${where(netns)} already exists`);
    this.link = link;
    this.netns = netns;
  }
}

/** The link, or one it refers to (parent, master, peer), does not exist. */
export class LinkNotFoundError extends WeftError {
  readonly link: string;
  readonly role: 'link' | 'parent' | 'master' | 'device';
  readonly netns: string | undefined;
  constructor(link: string, role: LinkNotFoundError['role'] = 'link', netns?: string, subject?: string) {
    const about = subject ? ` (for ${subject})` : '';
    super('ERR_WEFT_LINK_NOT_FOUND', `${role === 'link' ? 'link' : `${role} link`} ${link}${where(netns)} does not exist${about}`);
    this.link = link;
    this.role = role;
    this.netns = netns;
  }
}

/** A link setting is out of range or refused by the kernel (VNI, VLAN id, MTU, mode ...). */
export class LinkConfigError extends WeftError {
  readonly link: string;
  readonly field: string;
  constructor(link: string, field: string, reason: string, options?: { cause?: unknown }) {
    super('ERR_WEFT_LINK_CONFIG', `link ${link}: ${field} ${reason}`, options);
    this.link = link;
    this.field = field;
  }
}

/**
 * An address, route, neighbour or FDB entry operation that was refused:
 * by the kernel (`errno` = its errno name, cause = the NetlinkError) or
 * before it was sent (bad input, `errno` = EINVAL).
 */
export class RtnlObjectError extends WeftError {
  readonly object: string;
  readonly errno: string;
  constructor(code: 'ERR_WEFT_ADDRESS' | 'ERR_WEFT_ROUTE' | 'ERR_WEFT_NEIGHBOUR' | 'ERR_WEFT_FDB', object: string, cause: NetlinkError | string) {
    const reason = typeof cause === 'string' ? cause : `${cause.errno}${cause.extackMessage ? `: ${cause.extackMessage}` : ''}`;
    super(code, `${object}: ${reason}`, typeof cause === 'string' ? undefined : { cause });
    this.object = object;
    this.errno = typeof cause === 'string' ? 'EINVAL' : cause.errno;
  }
}

/** IPVS answered with something that is not what the command replies with. */
export class IpvsReplyError extends WeftError {
  constructor(what: string, reason: string) {
    super('ERR_WEFT_IPVS_REPLY', `${what}: unexpected IPVS reply: ${reason}`);
  }
}

// ---- io ----

/** A failed system call of the native addon: `errno` is its name (EEXIST, ENODEV ...). */
export class SysError extends WeftError {
  readonly errno: string;
  readonly errnoNumber: number;
  readonly syscall: string;
  constructor(errno: string, errnoNumber: number, syscall: string, message: string) {
    super('ERR_WEFT_SYSCALL', message);
    this.errno = errno;
    this.errnoNumber = errnoNumber;
    this.syscall = syscall;
  }
}

/** Thrown when weft's native parts are used where they cannot work. */
export class UnsupportedPlatformError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_UNSUPPORTED_PLATFORM', message);
  }
}

/** A network namespace that does not exist (errno ENOENT, ERR_WEFT_NETNS_NOT_FOUND) or cannot be opened (ERR_WEFT_NETNS_OPEN). */
export class NetnsNotFoundError extends WeftError {
  readonly netns: string;
  readonly errno: string;
  constructor(netns: string, errno = 'ENOENT', options?: { cause?: unknown }) {
    super(errno === 'ENOENT' ? 'ERR_WEFT_NETNS_NOT_FOUND' : 'ERR_WEFT_NETNS_OPEN', `network namespace ${netns} ${errno === 'ENOENT' ? 'does not exist' : `cannot be opened (${errno})`}`, options);
    this.netns = netns;
    this.errno = errno;
  }
}

/** Adding or deleting a named network namespace failed. */
export class NetnsOperationError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_WEFT_NETNS_OPERATION', message, options);
  }
}

/** A sysctl could not be read or written (missing key, bad value, namespace gone). */
export class SysctlError extends WeftError {
  readonly key: string;
  readonly netns: string | undefined;
  constructor(key: string, netns: string | undefined, reason: string) {
    super('ERR_WEFT_SYSCTL', `sysctl ${key}${netns ? ` in netns ${netns}` : ''}: ${reason}`);
    this.key = key;
    this.netns = netns;
  }
}

/** nft failed (bad ruleset, kernel without nf_tables; ERR_WEFT_NFT_MISSING: no nft binary). */
export class NftError extends WeftError {
  readonly stderr: string;
  constructor(what: string, stderr: string, code: 'ERR_WEFT_NFT' | 'ERR_WEFT_NFT_MISSING' = 'ERR_WEFT_NFT') {
    super(code, `nft ${what}: ${stderr.trim().split('\n')[0] || 'failed'}`);
    this.stderr = stderr;
  }
}

/** A socket was used after it was closed. */
export class SocketClosedError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_SOCKET_CLOSED', message);
  }
}

/** Waiting for a socket to become readable failed. */
export class SocketPollError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_SOCKET_POLL', message);
  }
}

/** The plugin socket path is served by a running process. */
export class SocketInUseError extends WeftError {
  constructor(path: string) {
    super('ERR_WEFT_SOCKET_IN_USE', `${path} is in use by a running process (another weft daemon?)`);
  }
}

/** The plugin socket path is taken by something that is not a socket. */
export class NotASocketError extends WeftError {
  constructor(path: string) {
    super('ERR_WEFT_NOT_A_SOCKET', `${path} exists and is not a socket`);
  }
}

/** The CLI cannot reach the weft daemon's socket. */
export class DaemonUnreachableError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_DAEMON_UNREACHABLE', message);
  }
}

/** Another live daemon holds the claim (state directory, socket, instance). */
export class ClaimedError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_CLAIMED', message);
  }
}

/** Docker's API did not answer, or answered with an error or with something that is not the expected JSON. */
export class DockerApiError extends WeftError {
  constructor(message: string, readonly status?: number) {
    super('ERR_WEFT_DOCKER_API', message);
  }
}

/** A file could not be written durably (full disk, I/O error); the previous contents are intact. `reason` says why. */
export class FileWriteError extends WeftError {
  constructor(readonly path: string, readonly reason: string, cause: unknown) {
    super('ERR_WEFT_FILE_WRITE', `cannot write ${path}: ${reason}`, { cause });
  }
}

/** The journal is damaged in a way a crash cannot explain; nothing was changed. */
export class JournalCorruptError extends WeftError {
  /** `records`: the intact records before the damage (what `weft state recover` starts from). */
  constructor(readonly path: string, readonly offset: number, reason: string, readonly records: unknown[] = []) {
    super('ERR_WEFT_JOURNAL_CORRUPT', `state journal ${path} is damaged at byte ${offset} (${reason}); weft refuses to start rather than lose state. Inspect with 'weft state check --state-dir ${parentDir(path)}', rebuild with 'weft state recover --state-dir ${parentDir(path)}' (keeps a backup of the damaged file)`);
  }
}

/** An append could not be made durable; the journal is back at its last good record. */
export class JournalWriteError extends WeftError {
  constructor(readonly path: string, reason: string, cause: unknown) {
    super('ERR_WEFT_JOURNAL_WRITE', `cannot write state journal ${path}: ${reason}; the change was not made`, { cause });
  }
}

/** A state file weft keeps (the DNS record file) cannot be read as what it should hold. */
export class StateFileError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_STATE_FILE', message);
  }
}

// ---- dataplane ----

/** A forwarding-table operation of the userspace VTEP that contradicts the table. */
export class FdbEntryError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_FDB_ENTRY', message);
  }
}

/** A VTEP worker thread died. */
export class WorkerExitError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_WORKER_EXIT', message);
  }
}

/** The routing mesh's state file is unreadable or from an unknown version. */
export class MeshStateError extends WeftError {
  constructor(path: string, reason: string) {
    super('ERR_WEFT_MESH_STATE', `mesh state ${path}: ${reason}`);
  }
}

/** The kernel cannot do what an encrypted overlay needs; nothing was set up. */
export class EncryptionUnavailableError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_WEFT_ENCRYPTION_UNAVAILABLE', message, options);
  }
}

// ---- dns ----

/** A DNS record that cannot be stored (bad name, address, field). */
export class InvalidRecordError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_DNS_RECORD', message);
  }
}

// ---- cnm ----

export class NetworkNotFoundError extends WeftError {
  constructor(id: string) {
    super('ERR_WEFT_NETWORK_NOT_FOUND', `network ${id} not found`);
  }
}

export class EndpointNotFoundError extends WeftError {
  constructor(id: string) {
    super('ERR_WEFT_ENDPOINT_NOT_FOUND', `endpoint ${id} not found`);
  }
}

/** A published host port that is already taken. */
export class PortInUseError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_PORT_IN_USE', message);
  }
}

/** A network option weft cannot honour. */
export class NetworkOptionError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_NETWORK_OPTION', message);
  }
}

export type IpamErrorCode =
  | 'ERR_WEFT_IPAM_INVALID_REQUEST' // a subnet, range or address that cannot be used as asked
  | 'ERR_WEFT_IPAM_NO_POOL' // unknown pool ID, or the default pool is used up
  | 'ERR_WEFT_IPAM_POOL_OVERLAP' // the subnet overlaps one in use in the address space
  | 'ERR_WEFT_IPAM_OUT_OF_POOL' // the address is not in the pool's subnet
  | 'ERR_WEFT_IPAM_ADDRESS_IN_USE' // the address is already allocated
  | 'ERR_WEFT_IPAM_NO_ADDRESS'; // the pool has no free address left

/** An IPAM request that cannot be met; `code` says why. */
export class IpamError extends WeftError {
  declare readonly code: IpamErrorCode;
  constructor(code: IpamErrorCode, message: string) {
    super(code, message);
  }
}

// ---- plugin ----

/** A Docker plugin request that is not what the protocol says (answered with HTTP 400). */
export class PluginRequestError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_PLUGIN_REQUEST', message);
  }
}

// ---- control ----

/** The store cannot be reached (etcd down); operations may be retried. */
export class StoreUnavailableError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_WEFT_STORE_UNAVAILABLE', message, options);
  }
}

/** etcd refused this client: bad credentials, permissions, or TLS material. */
export class StoreAuthError extends WeftError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_WEFT_STORE_AUTH', message, options);
  }
}

/** Keys would cross the network in clear: refused unless the operator said otherwise. */
export class InsecureStoreError extends WeftError {
  constructor() {
    super('ERR_WEFT_INSECURE_STORE', 'encrypted networks need their keys stored over TLS: use an etcds:// store (WEFT_ETCD_CA/CERT/KEY or --etcd-ca/--etcd-cert/--etcd-key), or start weft with --insecure-store-keys to accept keys travelling in clear to etcd');
  }
}

// ---- daemon, trace, cli ----

/** The journal is gone or empty while the kernel still holds this instance's objects. */
export class StateMissingError extends WeftError {
  constructor(path: string, status: string, objects: string[]) {
    super('ERR_WEFT_STATE_MISSING', `state journal ${path} is ${status}, but the kernel still has ${objects.length} object(s) of this weft instance (${objects.slice(0, 5).join(', ')}${objects.length > 5 ? ', …' : ''}); weft refuses to start rather than delete them. Rebuild the state with 'weft state recover --state-dir ${path.replace(/\/state\.journal$/, '')}', or remove the objects if they are not wanted`);
  }
}

/** A capture filter expression that does not parse. */
export class FilterSyntaxError extends WeftError {
  readonly column: number;
  constructor(message: string, column: number) {
    super('ERR_WEFT_FILTER_SYNTAX', `filter: ${message} at column ${column}`);
    this.column = column;
  }
}

/** One repair call of `weft repair` was refused by the daemon. */
export class RepairError extends WeftError {
  constructor(message: string) {
    super('ERR_WEFT_REPAIR', message);
  }
}
