/**
 * Validation of Docker's plugin request bodies (docs/plugin-protocol.md). Docker
 * sends Go-encoded JSON where any map or array may be null and field names
 * match case-insensitively; everything else is untrusted and checked here,
 * so handlers only ever see well-typed values.
 */
import { PluginRequestError } from '../errors.js';

export type Obj = Record<string, unknown>;

const ID_RE = /^[0-9a-zA-Z]{1,64}$/;

/** Parses a body into an object. Empty bodies become {} (calls without arguments). */
export function parseBody(body: Buffer): Obj {
  const text = body.toString('utf8').trim();
  if (text === '') return {};
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    throw new PluginRequestError(`request body is not JSON: ${(err as Error).message}`);
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) throw new PluginRequestError('request body must be a JSON object');
  return v as Obj;
}

/** Field lookup that, like Go's decoder, ignores case. */
export function field(o: Obj, name: string): unknown {
  if (name in o) return o[name];
  const lower = name.toLowerCase();
  for (const k of Object.keys(o)) if (k.toLowerCase() === lower) return o[k];
  return undefined;
}

export function str(o: Obj, name: string, opts: { required?: boolean; max?: number } = {}): string {
  const v = field(o, name);
  if (v === undefined || v === null || v === '') {
    if (opts.required) throw new PluginRequestError(`${name} is required`);
    return '';
  }
  if (typeof v !== 'string') throw new PluginRequestError(`${name} must be a string`);
  if (v.length > (opts.max ?? 4096)) throw new PluginRequestError(`${name} is too long`);
  return v;
}

export function id(o: Obj, name: string): string {
  const v = str(o, name, { required: true });
  if (!ID_RE.test(v)) throw new PluginRequestError(`${name} must be 1-64 alphanumeric characters`);
  return v;
}

export function bool(o: Obj, name: string): boolean {
  const v = field(o, name);
  if (v === undefined || v === null) return false;
  if (typeof v === 'boolean') return v;
  if (v === 'true' || v === 'false') return v === 'true';
  throw new PluginRequestError(`${name} must be a boolean`);
}

/** An object field; null/absent is {}. */
export function map(o: Obj, name: string): Obj {
  const v = field(o, name);
  if (v === undefined || v === null) return {};
  if (typeof v !== 'object' || Array.isArray(v)) throw new PluginRequestError(`${name} must be an object`);
  return v as Obj;
}

/** A string-to-string map (driver options); non-string values are refused. */
export function stringMap(o: Obj, name: string): Record<string, string> {
  const m = map(o, name);
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(m)) {
    if (typeof v === 'string') out[k] = v;
    else if (typeof v === 'number' || typeof v === 'boolean') out[k] = String(v);
    else throw new PluginRequestError(`${name}.${k} must be a string`);
  }
  return out;
}

/** An array of objects; null/absent is []. */
export function list(o: Obj, name: string, max = 64): Obj[] {
  const v = field(o, name);
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v)) throw new PluginRequestError(`${name} must be an array`);
  if (v.length > max) throw new PluginRequestError(`${name} has more than ${max} entries`);
  return v.map((e, i) => {
    if (e === null || typeof e !== 'object' || Array.isArray(e)) throw new PluginRequestError(`${name}[${i}] must be an object`);
    return e as Obj;
  });
}

export interface IpData {
  addressSpace: string;
  pool: string;
  gateway: string;
  auxAddresses: Record<string, string>;
}

export function ipData(o: Obj, name: string): IpData[] {
  return list(o, name).map((e) => ({
    addressSpace: str(e, 'AddressSpace'),
    pool: str(e, 'Pool', { required: true }),
    gateway: str(e, 'Gateway'),
    auxAddresses: stringMap(e, 'AuxAddresses'),
  }));
}
