/**
 * weft's wire codecs: pure functions and zero-copy views from bytes to
 * typed values and back. No I/O, no clocks, no globals.
 *
 * Contract, the same in every protocol file:
 *  - `XView` wraps a Uint8Array at an offset; its constructor checks the
 *    length (and the few fields offsets depend on) once and throws
 *    DecodeError, after which no getter can read out of bounds.
 *    `view.reset(bytes, offset, length)` re-points a view without
 *    allocating or throwing (it returns the drop reason), for hot paths.
 *  - `check(bytes, offset, length)` returns that reason or null.
 *  - `decode(bytes, offset?, length?)` returns a plain Repr object; payload
 *    fields are subarrays of the input (no copy).
 *  - `encodingLength(repr)` and `encode(repr, out?, offset?)` write
 *    exactly that many bytes (checksums included); bad reprs throw
 *    InvalidArgumentError (ERR_WEFT_INVALID_ARGUMENT).
 *  - Only DecodeError (EDECODE) escapes a decoder, on any input.
 */
export * as bytes from './bytes.js';
export * as ethernet from './ethernet.js';
export * as vlan from './vlan.js';
export * as arp from './arp.js';
export * as ipv4 from './ipv4.js';
export * as ipv6 from './ipv6.js';
export * as icmpv4 from './icmpv4.js';
export * as icmpv6 from './icmpv6.js';
export * as udp from './udp.js';
export * as tcp from './tcp.js';
export * as vxlan from './vxlan.js';
export { DecodeError, type DecodeReason } from '../errors.js';
export { decodeFrame, type DecodedFrame, type Layer, type LayerName, type FrameError, type DecodeFrameOptions } from './frame.js';
