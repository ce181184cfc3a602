/** The DNS wire codec: pure functions over bytes, no I/O. */
export * from './constants.js';
export { DnsDecodeError, DnsEncodeError, type DnsDecodeCode } from '../../errors.js';
export * from './name.js';
export * from './message.js';
export * from './query.js';
export * from './layout.js';
