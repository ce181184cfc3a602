/**
 * Fuzz target: arbitrary bytes through the DNS decoder and the server's
 * query fast path. The only exception allowed out is DnsDecodeError; when
 * decoding succeeds, encoding succeeds and decodes back to the same message
 * (miekg's Fuzz round trip).
 */
import { deepStrictEqual } from 'node:assert/strict';
import { DnsDecodeError, DnsEncodeError } from '../../src/errors.js';
import { decodeMessage, encodeMessage, type DnsMessage } from '../../src/wire/dns/message.js';
import { QueryInfo, acceptQuery, parseQuery } from '../../src/wire/dns/query.js';

const info = new QueryInfo();

export function fuzz(data: Uint8Array): void {
  try {
    parseQuery(data, data.length, info);
    acceptQuery(info);
  } catch (err) {
    if (!(err instanceof DnsDecodeError)) throw err;
  }
  let msg: DnsMessage;
  try {
    msg = decodeMessage(data);
  } catch (err) {
    if (err instanceof DnsDecodeError) return;
    throw err;
  }
  let bytes: Buffer;
  try {
    bytes = encodeMessage(msg);
  } catch (err) {
    // Heavily compressed input can expand past 64 KiB when re-encoded from 0x4000 on.
    if (err instanceof DnsEncodeError && /longer than/.test(err.message)) return;
    throw err;
  }
  deepStrictEqual(decodeMessage(bytes), msg);
}

export default fuzz;
