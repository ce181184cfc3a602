/**
 * struct sockaddr encodings (Linux ABI, x86_64 and every other Linux arch
 * weft targets: the layouts below are fixed by the kernel uapi).
 */
import { isIPv4, isIPv6 } from 'node:net';
import { WeftError } from '../errors.js';

export const AF_UNIX = 1;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;

/** sockaddr_nl: family u16, pad u16, pid u32, groups u32 (12 bytes). */
export function sockaddrNetlink(pid = 0, groups = 0): Buffer {
  const b = Buffer.alloc(12);
  b.writeUInt16LE(AF_NETLINK, 0);
  b.writeUInt32LE(pid >>> 0, 4);
  b.writeUInt32LE(groups >>> 0, 8);
  return b;
}

/** sockaddr_ll for bind(2): family, protocol (network order), ifindex. 20 bytes. */
export function sockaddrPacket(ifindex: number, protocol: number): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  return b;
}

/** sockaddr_in (16 bytes) or sockaddr_in6 (28 bytes) for an address string. */
export function sockaddrInet(address: string, port: number): Buffer {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new WeftError('EINVALARG', `invalid port ${port}`);
  }
  if (isIPv4(address)) {
    const b = Buffer.alloc(16);
    b.writeUInt16LE(AF_INET, 0);
    b.writeUInt16BE(port, 2);
    address.split('.').forEach((part, i) => (b[4 + i] = Number(part)));
    return b;
  }
  if (isIPv6(address)) {
    const b = Buffer.alloc(28);
    b.writeUInt16LE(AF_INET6, 0);
    b.writeUInt16BE(port, 2);
    ipv6Bytes(address).copy(b, 8);
    return b;
  }
  throw new WeftError('EINVALARG', `invalid IP address ${JSON.stringify(address)}`);
}

/** Reads an AF_INET/AF_INET6 sockaddr back into address and port. */
export function parseSockaddrInet(b: Uint8Array, offset = 0): { address: string; port: number } {
  const family = b[offset]! | (b[offset + 1]! << 8);
  const port = (b[offset + 2]! << 8) | b[offset + 3]!;
  if (family === AF_INET) {
    return { address: `${b[offset + 4]}.${b[offset + 5]}.${b[offset + 6]}.${b[offset + 7]}`, port };
  }
  if (family === AF_INET6) {
    return { address: formatIPv6(b.subarray(offset + 8, offset + 24)), port };
  }
  return { address: '', port: 0 };
}

/** The 16 bytes of an IPv6 address string. */
export function ipv6Bytes(address: string): Buffer {
  let text = address;
  const out = Buffer.alloc(16);
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const parts = v4[1]!.split('.').map(Number);
    text = text.slice(0, -v4[1]!.length) + `${((parts[0]! << 8) | parts[1]!).toString(16)}:${((parts[2]! << 8) | parts[3]!).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups = [...headParts, ...Array(8 - headParts.length - tailParts.length).fill('0'), ...tailParts];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** RFC 5952 text for 16 IPv6 bytes. */
export function formatIPv6(bytes: Uint8Array): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i > 1) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}
