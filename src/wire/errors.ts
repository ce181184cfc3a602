/**
 * The one error a wire decoder throws: malformed or unsupported bytes.
 * `layer` names the protocol ('ipv4', 'vxlan' ...), `offset` is the byte
 * offset in the buffer handed to the decoder where the problem was found,
 * and `reason` is one of a small fixed set so callers can count drops by
 * reason without parsing messages. Hot paths that must not throw use the
 * `check*` functions, which return the same reason strings (or null).
 */
import { WeftError } from '../errors.js';

export type DecodeReason =
  | 'truncated' // fewer bytes than the header or a length field needs
  | 'bad-length' // a length field is impossible (below the minimum, not a multiple ...)
  | 'bad-version' // IP version nibble does not match
  | 'bad-checksum' // only when the caller asked for verification
  | 'invalid-header' // reserved bits set, required flag clear (VXLAN), bad hardware sizes (ARP)
  | 'too-many-headers' // a chain (IPv6 extensions, VLAN tags, nested tunnels) exceeds its bound
  | 'bad-option' // a TLV option with zero or overrunning length
  | 'unsupported'; // well-formed but outside what this codec models

export class DecodeError extends WeftError {
  readonly layer: string;
  readonly offset: number;
  readonly reason: DecodeReason;
  constructor(layer: string, offset: number, reason: DecodeReason, detail?: string) {
    super('EDECODE', `${layer}: ${reason} at offset ${offset}${detail ? `: ${detail}` : ''}`);
    this.layer = layer;
    this.offset = offset;
    this.reason = reason;
  }
}
