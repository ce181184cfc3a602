/**
 * Decode failures of the DNS codec. Every malformed input ends in one of
 * these (never a RangeError or a hang); `code` says which rule broke so the
 * server can answer FORMERR and tests can assert the reason.
 */
import { WeftError } from '../../errors.js';

export type DnsDecodeCode =
  | 'EDNS_SHORT' // message or field runs past the end
  | 'EDNS_LABEL' // label longer than 63 or reserved label type (01/10)
  | 'EDNS_NAME_LONG' // expanded name longer than 255 octets
  | 'EDNS_POINTER' // compression pointer not strictly backwards / into the header
  | 'EDNS_COUNT' // a section count that cannot fit in the message
  | 'EDNS_RDATA' // rdata length disagrees with the record's own layout
  | 'EDNS_OPT' // OPT record misplaced, duplicated or malformed
  | 'EDNS_TRAILING'; // bytes after the last record

export class DnsDecodeError extends WeftError {
  declare readonly code: DnsDecodeCode;
  /** Byte offset where decoding failed. */
  readonly offset: number;
  constructor(code: DnsDecodeCode, message: string, offset: number) {
    super(code, `${message} at offset ${offset}`);
    this.offset = offset;
  }
}

/** Encode-side misuse (a value that cannot be put on the wire). */
export class DnsEncodeError extends WeftError {
  constructor(message: string) {
    super('EDNS_ENCODE', message);
  }
}
