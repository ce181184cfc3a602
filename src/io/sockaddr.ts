/**
 * struct sockaddr encodings (Linux ABI, x86_64 and every other Linux arch
 * weft targets: the layouts below are fixed by the kernel uapi).
 */
import { InvalidArgumentError } from '../errors.js';
import { AF_INET, AF_INET6, formatIPv6, ipv6Bytes, isIPv4, isIPv6 } from '../wire/ip.js';

export const AF_UNIX = 1;
export { AF_INET, AF_INET6 };
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
    throw new InvalidArgumentError(`invalid port ${port}`);
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
    b.set(ipv6Bytes(address), 8);
    return b;
  }
  throw new InvalidArgumentError(`invalid IP address ${JSON.stringify(address)}`);
}

/** Reads an AF_INET/AF_INET6 sockaddr back into address and port. */
export function parseSockaddrInet(b: Uint8Array, offset = 0): { address: string; port: number } {
  const family = b[offset]! | (b[offset + 1]! << 8);
  const port = (b[offset + 2]! << 8) | b[offset + 3]!;
  if (family === AF_INET) {
    return { address: `${b[offset + 4]}.${b[offset + 5]}.${b[offset + 6]}.${b[offset + 7]}`, port };
  }
  if (family === AF_INET6) {
    return { address: formatIPv6(b, offset + 8), port };
  }
  return { address: '', port: 0 };
}
