/**
 * Docker's NetworkDriver and IpamDriver protocol (docs/plugin-protocol.md) as a literal
 * table from path to handler, over the driver model. Handlers get validated
 * requests and return the response object; every failure becomes HTTP 500
 * with {"Err": …} (and "Error" for IPAM), bad requests HTTP 400, unknown
 * paths 404 — never a crash.
 */
import type { Controller } from '../cnm/controller.js';
import { GATEWAY_REQUEST } from '../cnm/ipam.js';
import { PluginRequestError, WeftError } from '../errors.js';
import { parsePortmap } from '../cnm/drivers/ports.js';
import { checkNetworkOptions } from './options.js';
import type { HttpRequest, HttpResponse } from '../io/unix-http.js';
import { type Obj, bool, field, id, ipData, map, parseBody, str, stringMap } from './schema.js';
import { swarmHandler } from './swarm.js';

const MAC_OPTION = 'com.docker.network.endpoint.macaddress';
export const CONTENT_TYPE = 'application/vnd.docker.plugins.v1.2+json';
export const MAX_BODY_BYTES = 1 << 20;

const PORTMAP = 'com.docker.network.portmap';

type Handler = (body: Obj, c: Controller) => Promise<Obj>;

/**
 * Docker retries a call whose connection dropped (weft killed after acting
 * but before answering) with the request body already consumed: the retry
 * arrives empty (docs/state.md). For a delete or release the first attempt
 * either happened or is undone by reconciliation against Docker's view, so
 * the retry succeeds and asks the controller to reconcile soon.
 */
const emptyRetry = (b: Obj, c: Controller): boolean => {
  if (Object.keys(b).length > 0) return false;
  c.onLostRetry();
  return true;
};


const network: Record<string, Handler> = {
  async GetCapabilities(_b, c) {
    // DataScope stays local even with etcd: weft spreads networks itself, and Docker 20.10
    // refuses DataScope global outside swarm ("This node is not a swarm manager").
    return { Scope: 'local', ConnectivityScope: c.store.kind === 'etcd' ? 'global' : 'local' };
  },
  async CreateNetwork(b, c) {
    const options = map(b, 'Options');
    const generic = stringMap(options, 'com.docker.network.generic');
    checkNetworkOptions(generic);
    await c.createNetwork({
      id: id(b, 'NetworkID'),
      options: generic,
      internal: bool(options, 'com.docker.network.internal'),
      ipv6: bool(options, 'com.docker.network.enable_ipv6'),
      ipv4: ipData(b, 'IPv4Data').map((d) => ({ pool: d.pool, ...(d.gateway ? { gateway: d.gateway } : {}), aux: d.auxAddresses })),
      ipv6Subnets: ipData(b, 'IPv6Data').map((d) => ({ pool: d.pool, ...(d.gateway ? { gateway: d.gateway } : {}), aux: d.auxAddresses })),
    });
    return {};
  },
  async DeleteNetwork(b, c) {
    if (emptyRetry(b, c)) return {};
    await c.deleteNetwork(id(b, 'NetworkID'));
    return {};
  },
  async CreateEndpoint(b, c) {
    const iface = map(b, 'Interface');
    const mac = str(iface, 'MacAddress');
    if (mac && !/^[0-9a-fA-F]{2}(:[0-9a-fA-F]{2}){5}$/.test(mac)) throw new PluginRequestError(`Interface.MacAddress ${JSON.stringify(mac)} is not a MAC address`);
    const r = await c.createEndpoint(id(b, 'NetworkID'), id(b, 'EndpointID'), {
      address: str(iface, 'Address'), addressV6: str(iface, 'AddressIPv6'), mac: mac.toLowerCase(),
    });
    return r.mac ? { Interface: { MacAddress: r.mac } } : { Interface: null };
  },
  async Join(b, c) {
    const r = await c.join(id(b, 'NetworkID'), id(b, 'EndpointID'), str(b, 'SandboxKey'));
    const out: Obj = { InterfaceName: { SrcName: r.srcName, DstPrefix: r.dstPrefix }, DisableGatewayService: true };
    if (r.gateway) out.Gateway = r.gateway;
    if (r.gatewayV6) out.GatewayIPv6 = r.gatewayV6;
    if (r.staticRoutes?.length) {
      out.StaticRoutes = r.staticRoutes.map((s) => ({ Destination: s.destination, RouteType: s.routeType, ...(s.nextHop ? { NextHop: s.nextHop } : {}) }));
    }
    return out;
  },
  async Leave(b, c) {
    if (emptyRetry(b, c)) return {};
    await c.leave(id(b, 'NetworkID'), id(b, 'EndpointID'));
    return {};
  },
  async DeleteEndpoint(b, c) {
    if (emptyRetry(b, c)) return {};
    await c.deleteEndpoint(id(b, 'NetworkID'), id(b, 'EndpointID'));
    return {};
  },
  async EndpointOperInfo(b, c) {
    const ep = await c.endpoint(id(b, 'EndpointID')).catch(() => undefined);
    return { Value: ep ? { 'weft.srcName': ep.srcName, 'weft.mac': ep.mac } : {} };
  },
  async ProgramExternalConnectivity(b, c) {
    const requests = parsePortmap(field(map(b, 'Options'), PORTMAP));
    await c.publishPorts(id(b, 'NetworkID'), id(b, 'EndpointID'), requests);
    return {};
  },
  async RevokeExternalConnectivity(b, c) {
    id(b, 'NetworkID');
    await c.unpublishPorts(id(b, 'EndpointID'));
    return {};
  },
  async AllocateNetwork(b) {
    id(b, 'NetworkID');
    return { Options: stringMap(b, 'Options') };
  },
  async FreeNetwork(b) {
    id(b, 'NetworkID');
    return {};
  },
  async DiscoverNew() {
    return {};
  },
  async DiscoverDelete() {
    return {};
  },
};

const ipam: Record<string, Handler> = {
  async GetCapabilities() {
    // The MAC Docker then sends with RequestAddress lets a retried request find its first answer.
    return { RequiresMACAddress: true, RequiresRequestReplay: false };
  },
  async GetDefaultAddressSpaces(_b, c) {
    return c.ipam.defaultAddressSpaces();
  },
  async RequestPool(b, c) {
    const pool = await c.ipam.requestPool({
      space: str(b, 'AddressSpace'),
      pool: str(b, 'Pool'),
      subPool: str(b, 'SubPool'),
      v6: bool(b, 'V6'),
    }, (await c.networks()).flatMap((n) => [...n.ipv4, ...n.ipv6Subnets].map((s) => s.pool)));
    return { PoolID: pool.id, Pool: pool.pool, Data: {} };
  },
  async ReleasePool(b, c) {
    if (emptyRetry(b, c)) return {};
    await c.ipam.releasePool(str(b, 'PoolID', { required: true }));
    return {};
  },
  async RequestAddress(b, c) {
    const aux = field(b, 'Options') === null;
    const options = aux ? {} : stringMap(b, 'Options');
    const gateway = options['RequestAddressType'] === GATEWAY_REQUEST;
    const mac = (options[MAC_OPTION] ?? '').toLowerCase();
    const address = await c.ipam.requestAddress(str(b, 'PoolID', { required: true }), str(b, 'Address'), {
      gateway, aux, ...(/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/.test(mac) ? { mac } : {}),
    });
    return { Address: address, Data: {} };
  },
  async ReleaseAddress(b, c) {
    if (emptyRetry(b, c)) return {};
    await c.ipam.releaseAddress(str(b, 'PoolID', { required: true }), str(b, 'Address', { required: true }));
    return {};
  },
};

const routes = new Map<string, { handler: Handler; ipam: boolean }>([
  ...Object.entries(network).map(([k, h]) => [`/NetworkDriver.${k}`, { handler: h, ipam: false }] as const),
  ...Object.entries(ipam).map(([k, h]) => [`/IpamDriver.${k}`, { handler: h, ipam: true }] as const),
]);

function json(status: number, body: Obj): HttpResponse {
  return { status, contentType: CONTENT_TYPE, body: `${JSON.stringify(body)}\n` };
}

function errorBody(message: string, forIpam: boolean): Obj {
  return forIpam ? { Err: message, Error: message } : { Err: message };
}

export const tooLarge = json(413, { Err: `request body larger than ${MAX_BODY_BYTES} bytes` });

/** Handles one plugin request; returns the response and the error code for the log (docs/errors.md). */
export async function handle(req: HttpRequest, c: Controller): Promise<{ response: HttpResponse; code?: string }> {
  if (req.path === '/Plugin.Activate') return { response: json(200, { Implements: ['NetworkDriver', 'IpamDriver'] }) };
  const route = routes.get(req.path);
  if (!route) return { response: json(404, { Err: `unknown method ${req.path}` }), code: 'ERR_WEFT_NOT_FOUND' };
  if (req.method !== 'POST') return { response: json(405, { Err: `${req.path} needs POST` }), code: 'ERR_WEFT_PLUGIN_METHOD' };
  try {
    const body = parseBody(req.body);
    const handler = swarmHandler(c, req.path) ?? route.handler;
    return { response: json(200, await handler(body, c)) };
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    const code = err instanceof WeftError ? err.code : 'ERR_WEFT_INTERNAL';
    const status = err instanceof PluginRequestError ? 400 : 500;
    return { response: json(status, errorBody(message, route.ipam)), code };
  }
}
