/**
 * Every verb of the CLI and its flags, in one table: `weft help`, `weft VERB
 * --help` and `weft completion bash` read it without loading the verb's
 * module (so they start fast), and each verb parses its arguments with it
 * (src/cli/flags.ts).
 */
import { type Flag, JSON_FLAG, NETNS, type VerbSpec } from './flags.js';

const STATE_DIR: Flag = { name: '--state-dir', value: 'DIR', help: 'weft state directory (default /var/lib/weft)' };
const STORE: Flag = { name: '--store', value: 'URL', help: "'embedded' or etcd://HOST:PORT[,HOST:PORT] (default $WEFT_STORE or embedded)" };
const IPROUTE = [NETNS, JSON_FLAG];
const DRY_RUN: Flag = { name: '--dry-run', help: 'rm: print the calls, change nothing' };
const PLUGIN_SOCKET: Flag = { name: '--socket', value: 'PATH', help: 'the running daemon\'s plugin socket (default /run/docker/plugins/weft.sock)' };

export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;

export const VERBS: readonly VerbSpec[] = [
  {
    name: 'addr', summary: 'list and change addresses (ip addr syntax): ls | add | replace | del',
    usage: ['addr ls [dev DEV]', 'addr add|replace|del ADDR/LEN dev DEV [brd ADDR] [label L] [scope global|link|host] [nodad]'],
    subcommands: ['ls', 'add', 'replace', 'del'], flags: IPROUTE,
  },
  {
    name: 'completion', summary: 'print the bash completion script: completion bash',
    usage: ['completion bash   (e.g. weft completion bash > /etc/bash_completion.d/weft)'], subcommands: ['bash'], flags: [],
  },
  {
    name: 'daemon', summary: 'run the Docker network + IPAM plugin (embedded store by default)',
    usage: ['daemon [--config FILE] [options]'],
    flags: [
      { name: '--config', value: 'FILE', help: 'read options from FILE: one `name value` per line, names as the flags without dashes (default $WEFT_CONFIG)' },
      { name: '--socket', value: 'PATH', help: 'plugin socket, must end in .sock (default /run/docker/plugins/weft.sock)' },
      STATE_DIR, STORE,
      { name: '--local', value: 'ADDR', help: "this host's underlay (VTEP) address; required with etcd" },
      { name: '--underlay-dev', value: 'IF', help: 'underlay device for VXLAN' },
      { name: '--host', value: 'NAME', help: 'host name in the shared store (default: hostname)' },
      { name: '--instance', value: 'NAME', help: 'qualifies kernel namespace names when several daemons share a machine' },
      { name: '--lease-ttl', value: 'SECONDS', help: 'etcd lease of this host (default 15)' },
      { name: '--no-dns', help: 'no DNS on the networks' },
      { name: '--dns-upstream', value: 'ADDR[:PORT]', multi: true, help: 'where unknown names go (default: /etc/resolv.conf)' },
      { name: '--docker-socket', value: 'PATH', help: "dockerd's API socket for container names (default /var/run/docker.sock)" },
      { name: '--etcd-ca', value: 'PEM', help: 'CA certificate for etcds:// (default $WEFT_ETCD_CA; without it, the system roots)' },
      { name: '--etcd-cert', value: 'PEM', help: 'client certificate for etcd (default $WEFT_ETCD_CERT)' },
      { name: '--etcd-key', value: 'PEM', help: 'client key for etcd (default $WEFT_ETCD_KEY)' },
      { name: '--etcd-user', value: 'NAME', help: 'etcd user (default $WEFT_ETCD_USER)' },
      { name: '--etcd-password-file', value: 'FILE', help: 'etcd password, read from FILE (or $WEFT_ETCD_PASSWORD_FILE, $WEFT_ETCD_PASSWORD); never in the URL: ps shows command lines' },
      { name: '--key-rotation', value: 'SECONDS', help: 'encrypted overlays: rotate the keys this often (default 43200, 12 h; $WEFT_KEY_ROTATION)' },
      { name: '--insecure-store-keys', help: 'allow encrypted overlays on a plain-text etcd:// store (keys cross the network in clear; $WEFT_INSECURE_STORE_KEYS=1)' },
      { name: '--docker-reconcile', value: 'SECONDS', help: "how often to release what Docker no longer has (networks, endpoints, their kernel objects); 0 only at start (default 60)" },
      { name: '--mesh', value: 'BACKEND', choices: ['auto', 'ipvs', 'nft', 'off'], help: 'routing mesh backend' },
      { name: '--metrics', value: 'ADDR', help: 'serve /metrics and /healthz on [HOST:]PORT (host default 127.0.0.1) or a unix socket PATH' },
      { name: '--log-level', value: 'LEVEL', choices: LOG_LEVELS, help: 'least severe level logged (default info)' },
    ],
    notes: ['The daemon always serves /status, /metrics and /healthz on <state-dir>/control.sock (read by `weft status`).'],
  },
  {
    name: 'dns', summary: 'embedded DNS: serve names per network, manage records (serve|add|rm|ls)',
    usage: [
      'dns serve --listen ADDR[:PORT] [--hosts FILE] [--network NAME]... [--upstream ADDR[:PORT]]... [--ttl N] [--state-dir DIR] [--rate-limit QPS] [--allow CIDR]... [--max-udp BYTES] [--no-tcp] [--ndots-local]',
      'dns add|rm --network NET --name NAME (--address IP [--ptr] | --cname T | --txt TEXT | --srv PRIO:WEIGHT:PORT:TARGET) [--ttl N]',
      'dns ls [--network NET]',
    ],
    subcommands: ['serve', 'add', 'rm', 'ls'],
    flags: [
      ...IPROUTE,
      { name: '--listen', value: 'ADDR[:PORT]', help: 'serve: address to answer on' },
      { name: '--hosts', value: 'FILE', help: 'serve: a hosts(5) file to answer from' },
      { name: '--network', value: 'NAME', multi: true, help: 'network whose names are served or changed' },
      { name: '--upstream', value: 'ADDR[:PORT]', multi: true, help: 'serve: forwarder for other names' },
      { name: '--ttl', value: 'N', help: 'TTL of answers or of the record' },
      { name: '--state-dir', value: 'DIR', help: 'where dns-records.json lives (default /var/lib/weft)' },
      { name: '--rate-limit', value: 'QPS', help: 'serve: queries per second per client (0: off)' },
      { name: '--allow', value: 'CIDR', multi: true, help: 'serve: clients allowed' },
      { name: '--max-udp', value: 'BYTES', help: 'serve: largest UDP answer' },
      { name: '--no-tcp', help: 'serve: no TCP listener' },
      { name: '--ndots-local', help: 'serve: never forward single-label names' },
      { name: '--name', value: 'NAME', help: 'add/rm: the record name' },
      { name: '--address', value: 'IP', help: 'add/rm: an A or AAAA record' },
      { name: '--ptr', help: 'add/rm: also the reverse record' },
      { name: '--cname', value: 'TARGET', help: 'add/rm: a CNAME record' },
      { name: '--txt', value: 'TEXT', multi: true, help: 'add/rm: a TXT record' },
      { name: '--srv', value: 'PRIO:WEIGHT:PORT:TARGET', help: 'add/rm: an SRV record' },
    ],
  },
  {
    name: 'endpoint', summary: 'list the endpoints weft manages: ls; remove one Docker forgot: rm ID [--dry-run]',
    usage: ['endpoint ls', 'endpoint rm ID [--dry-run] [--socket PATH]   (operator repair, through the running daemon)'], subcommands: ['ls', 'rm'],
    flags: [JSON_FLAG, STATE_DIR, STORE, DRY_RUN, PLUGIN_SOCKET],
  },
  {
    name: 'fdb', summary: 'list and change FDB entries (bridge fdb syntax): ls | add | append | replace | del',
    usage: ['fdb ls [dev DEV]', 'fdb add|append|replace|del MAC dev DEV [dst ADDR] [vni N] [port N] [via IF] [vlan N] [self] [master] [permanent|static|dynamic]'],
    subcommands: ['ls', 'add', 'append', 'replace', 'del'], flags: IPROUTE,
  },
  {
    name: 'link', summary: 'list and change links (ip link syntax): ls | add | del | set',
    usage: ['link ls [dev] [NAME]', 'link add NAME type bridge|veth|vxlan|macvlan|vlan|tun|tap|dummy [OPTIONS]', 'link set [dev] NAME [up|down] [mtu N] [master BR|nomaster] ...', 'link del [dev] NAME'],
    subcommands: ['ls', 'add', 'set', 'del'], flags: IPROUTE,
  },
  {
    name: 'neigh', summary: 'list and change neighbour entries (ip neigh syntax): ls | add | replace | del',
    usage: ['neigh ls [dev DEV] [proxy] [all]', 'neigh add|replace|del [proxy] ADDR [lladdr MAC] dev DEV [nud permanent|noarp|reachable|stale] [router]'],
    subcommands: ['ls', 'add', 'replace', 'del'], flags: IPROUTE,
  },
  {
    name: 'network', summary: 'list and inspect the networks weft manages: ls, inspect ID; remove one Docker forgot: rm ID [--dry-run]',
    usage: ['network ls', 'network inspect ID|PREFIX|NAME', 'network rm ID [--dry-run] [--socket PATH]   (operator repair, through the running daemon)'],
    subcommands: ['ls', 'inspect', 'rm'], flags: [JSON_FLAG, STATE_DIR, STORE, DRY_RUN, PLUGIN_SOCKET],
  },
  {
    name: 'peers', summary: 'hosts and endpoints known to the shared (etcd) store: ls',
    usage: ['peers ls [--network ID]'], subcommands: ['ls'],
    flags: [JSON_FLAG, STATE_DIR, STORE, { name: '--network', value: 'ID', help: 'only the endpoints of this network (ID prefix)' }],
  },
  {
    name: 'route', summary: 'list and change routes (ip route syntax): ls | add | replace | del',
    usage: ['route ls [-4|-6] [table N|all]', 'route add|replace|del [TYPE] DST|default [via GW] [dev DEV] [metric N] [table N] [src ADDR] [proto P] [scope S]'],
    subcommands: ['ls', 'add', 'replace', 'del'], flags: IPROUTE,
  },
  {
    name: 'service', summary: 'ingress routing mesh: published service ports balanced over backends (create|add|rm|ls)',
    usage: [
      'service create NAME --network NET --publish P[:T][/tcp|udp]... [--vip IP] [--mode masquerade|preserve-source] [--scheduler rr|wrr|random|sh|lc]',
      'service add NAME --backend ADDR[@WEIGHT]...',
      'service rm NAME [--backend ADDR]...',
      'service ls   (reads the state file; changes nothing)',
    ],
    subcommands: ['create', 'add', 'rm', 'ls'],
    flags: [
      ...IPROUTE,
      { name: '--network', value: 'NET', help: 'create: the network of the backends' },
      { name: '--publish', value: 'P[:T][/tcp|udp]', multi: true, help: 'create: published port and target port' },
      { name: '--vip', value: 'IP', help: 'create: virtual IP inside the network' },
      { name: '--mode', value: 'MODE', choices: ['masquerade', 'preserve-source'], help: 'create: client address handling' },
      { name: '--scheduler', value: 'SCHED', choices: ['rr', 'wrr', 'random', 'sh', 'lc'], help: 'create: balancing' },
      { name: '--backend', value: 'ADDR[@WEIGHT]', multi: true, help: 'add/rm: a backend' },
      { name: '--mesh-backend', value: 'BACKEND', choices: ['ipvs', 'nft'], help: 'force the kernel backend' },
      { name: '--host-index', value: 'N', help: "this host's index among peers (0-63)" },
      { name: '--peer', value: 'N=ADDR', multi: true, help: 'another host of the mesh' },
      { name: '--state-dir', value: 'DIR', help: 'where mesh-<netns|host>.json lives (default /var/lib/weft)' },
    ],
  },
  {
    name: 'state', summary: 'check the state journal, or rebuild it from its intact records, Docker\'s view and the kernel: check | recover',
    usage: ['state check [--state-dir DIR] [--instance NAME]', 'state recover [--state-dir DIR] [--instance NAME] [--socket PATH] [--docker-socket PATH] [--host NAME] [--without-docker]'],
    subcommands: ['check', 'recover'],
    flags: [
      JSON_FLAG, STATE_DIR,
      { name: '--instance', value: 'NAME', help: 'the daemon instance whose kernel objects count' },
      PLUGIN_SOCKET,
      { name: '--docker-socket', value: 'PATH', help: "dockerd's API socket (default /var/run/docker.sock)" },
      { name: '--host', value: 'NAME', help: 'this host\'s name in the records (default the hostname)' },
      { name: '--without-docker', help: 'recover without Docker\'s view (only the journal\'s intact records and the kernel)' },
    ],
  },
  {
    name: 'status', summary: 'health of this host: store, peers, networks, DNS, mesh, problems with hints',
    usage: ['status [--json]'],
    flags: [
      JSON_FLAG, STATE_DIR, STORE,
      { name: '--control', value: 'PATH', help: "the daemon's control socket (default <state-dir>/control.sock)" },
      { name: '--probe-timeout', value: 'MS', help: 'how long a VTEP or etcd probe may take (default 1000)' },
    ],
    notes: ['Exit status: 0 healthy, 1 at least one problem (each listed with a hint), 2 bad arguments.'],
  },
  {
    name: 'trace', summary: 'read, capture, count and follow packets (pcap/pcapng, VXLAN-aware)',
    usage: [
      'trace read FILE [FILTER] [--json] [-v] [-c N]',
      'trace stats FILE [FILTER] [--json] [--top N]',
      'trace capture -i IFACE [FILTER] [-w FILE] [-c N] [--duration S] [--json] [-v] [-q]',
      'trace follow --hop NAME=NETNS:IFACE ... [FILTER] [--duration S] [-c N] [--json]',
    ],
    subcommands: ['read', 'stats', 'capture', 'follow'],
    flags: [
      ...IPROUTE,
      { name: '--interface', short: '-i', value: 'IFACE', help: 'capture: interface' },
      { name: '--write', short: '-w', value: 'FILE', help: 'write the packets the filter selects to a pcapng file instead of printing them' },
      { name: '--count', short: '-c', value: 'N', help: 'stop after N packets' },
      { name: '--duration', value: 'S', help: 'capture/follow: stop after S seconds' },
      { name: '--hop', value: 'NAME=NETNS:IFACE', multi: true, help: 'follow: a capture point' },
      { name: '--top', value: 'N', help: 'stats: rows per table' },
      { name: '--verbose', short: '-v', help: 'one tree per packet' },
      { name: '--quiet', short: '-q', help: 'capture: print nothing per packet' },
    ],
    notes: ['FILTER: host, net, port, proto, vni, inner, and/or/not, parentheses. Exit: 0 ok, 1 unreadable file, 2 bad arguments, 3 truncated file.'],
  },
  {
    name: 'vtep', summary: 'userspace VXLAN endpoint on a TAP device (run)',
    usage: ['vtep run --tap NAME --vni N --local ADDR [--address CIDR] [--peer ADDR]... [--fdb MAC=ADDR]... [options]'],
    subcommands: ['run'],
    flags: [
      ...IPROUTE,
      { name: '--tap', value: 'NAME', help: 'TAP device to create' },
      { name: '--vni', value: 'N', help: 'VXLAN network identifier' },
      { name: '--local', value: 'ADDR', help: 'local underlay address' },
      { name: '--address', value: 'CIDR', help: 'address on the TAP' },
      { name: '--mtu', value: 'N', help: 'TAP MTU (default 1450)' },
      { name: '--mac', value: 'MAC', help: 'TAP MAC address' },
      { name: '--port', value: 'N', help: 'UDP port (default 4789)' },
      { name: '--bum', value: 'MODE', choices: ['drop', 'replicate'], help: 'flood to the peers (replicate, the default with --peer) or not (drop: unicast to --fdb entries only, as Docker\'s overlay)' },
      { name: '--peer', value: 'ADDR', multi: true, help: "a remote VTEP: admit its datagrams and flood broadcast, multicast and unknown unicast to it (head-end replication, like 'bridge fdb append 00:00:00:00:00:00 dev vxlan0 dst ADDR')" },
      { name: '--fdb', value: 'MAC=ADDR', multi: true, help: 'a static entry: frames for MAC go to ADDR only (ADDR is admitted)' },
      { name: '--proxy', value: 'IP=MAC', multi: true, help: 'answer ARP/NDP for IP on the TAP with MAC' },
      { name: '--accept-unknown-peers', help: 'admit datagrams from any address' },
      { name: '--workers', value: 'N', help: 'data-path threads (default one per CPU, at most 4): a multi-queue TAP and one SO_REUSEPORT socket per worker; a flow stays on one worker' },
      { name: '--tunnel-offload', help: 'send unicast TCP/UDP super-frames as UDP-tunnel GSO packets through an underlay TAP (Linux 6.17+, IPv4 underlay; the TAP forwards, so a FORWARD firewall chain must accept it): the kernel segments, or the peer\'s vxlan takes the super-packet whole' },
      { name: '--underlay-tap', value: 'NAME', help: 'name of the underlay TAP (default: the TAP\'s name + "-u")' },
      { name: '--metrics', value: 'ADDR', help: 'serve /metrics on [HOST:]PORT or a unix socket PATH' },
    ],
  },
];

export function verb(name: string): VerbSpec | undefined {
  return VERBS.find((v) => v.name === name);
}

/** The flag table of a verb (every verb is in VERBS). */
export function flagsOf(name: string): readonly Flag[] {
  return verb(name)!.flags;
}
