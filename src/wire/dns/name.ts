/**
 * Domain names on the wire (RFC 1035 §3.1, §4.1.4) and in text.
 *
 * Text form: labels joined by '.', no trailing dot, the root is ''. Bytes
 * that would be ambiguous ('.', '\') or unprintable (outside 0x21..0x7e)
 * are escaped as `\.`, `\\` and `\DDD`, so every wire name round-trips even
 * when a label contains a dot or NUL (dns-packet's join loses that).
 *
 * Decoding follows only compression pointers that land strictly before the
 * start of the run of labels they end (the name's start, or the previous
 * jump's target) and not into the header: jump targets then strictly
 * decrease, so label->pointer cycles are impossible, every name ends
 * (RFC 9267 §2), pointer-to-pointer chains stay legal, and the expanded
 * length is capped at 255 octets as it grows (no CPU burn on deep chains).
 */
import { HEADER_SIZE, MAX_LABEL, MAX_NAME_WIRE } from './constants.js';
import { DnsDecodeError, DnsEncodeError } from '../../errors.js';

/** Where a read stopped; decoders thread one through instead of returning tuples. */
export interface Cursor {
  pos: number;
}

// Worst case text: 255 wire octets, every one escaped as \DDD (4 chars).
const scratch = Buffer.alloc(MAX_NAME_WIRE * 4);

/**
 * Reads the name at cur.pos; cur.pos moves past it (past the first pointer
 * when compressed). `lower` folds ASCII A-Z, giving a lookup key.
 */
export function readName(buf: Uint8Array, end: number, cur: Cursor, lower = false): string {
  let pos = cur.pos;
  let segment = pos; // start of the run being read; every jump must land before it
  let resume = -1; // where the caller's stream continues after the first jump
  let wire = 1; // expanded octets so far, counting the root
  let out = 0;
  for (;;) {
    if (pos >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'name runs past the end', pos);
    const len = buf[pos]!;
    if (len === 0) {
      cur.pos = resume >= 0 ? resume : pos + 1;
      return scratch.toString('latin1', 0, out);
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'pointer runs past the end', pos);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (target >= segment || target < HEADER_SIZE) {
        throw new DnsDecodeError('ERR_WEFT_DNS_POINTER', `compression pointer to ${target} is not strictly backwards`, pos);
      }
      if (resume < 0) resume = pos + 2;
      pos = segment = target;
      continue;
    }
    if (kind !== 0) throw new DnsDecodeError('ERR_WEFT_DNS_LABEL', `reserved label type 0x${kind.toString(16)}`, pos);
    // len <= 63 here because the top two bits are clear.
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsDecodeError('ERR_WEFT_DNS_NAME_LONG', 'name longer than 255 octets', pos);
    if (pos + 1 + len > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'label runs past the end', pos);
    if (out > 0) scratch[out++] = 0x2e;
    for (let i = pos + 1, stop = pos + 1 + len; i < stop; i++) {
      let c = buf[i]!;
      if (c >= 0x21 && c <= 0x7e && c !== 0x2e && c !== 0x5c) {
        if (lower && c >= 0x41 && c <= 0x5a) c |= 0x20;
        scratch[out++] = c;
      } else if (c === 0x2e || c === 0x5c) {
        scratch[out++] = 0x5c;
        scratch[out++] = c;
      } else {
        scratch[out++] = 0x5c;
        scratch[out++] = 0x30 + ((c / 100) | 0);
        scratch[out++] = 0x30 + (((c / 10) | 0) % 10);
        scratch[out++] = 0x30 + (c % 10);
      }
    }
    pos += 1 + len;
  }
}

/**
 * Skips the name at cur.pos with the same checks as readName, building
 * nothing. `base` is where the message starts in buf (pointers are
 * message offsets).
 */
export function skipName(buf: Uint8Array, end: number, cur: Cursor, base = 0): void {
  let pos = cur.pos;
  let segment = pos;
  let resume = -1;
  let wire = 1;
  for (;;) {
    if (pos >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'name runs past the end', pos);
    const len = buf[pos]!;
    if (len === 0) {
      cur.pos = resume >= 0 ? resume : pos + 1;
      return;
    }
    const kind = len & 0xc0;
    if (kind === 0xc0) {
      if (pos + 1 >= end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'pointer runs past the end', pos);
      const target = ((len & 0x3f) << 8) | buf[pos + 1]!;
      if (base + target >= segment || target < HEADER_SIZE) {
        throw new DnsDecodeError('ERR_WEFT_DNS_POINTER', `compression pointer to ${target} is not strictly backwards`, pos - base);
      }
      if (resume < 0) resume = pos + 2;
      pos = segment = base + target;
      continue;
    }
    if (kind !== 0) throw new DnsDecodeError('ERR_WEFT_DNS_LABEL', `reserved label type 0x${kind.toString(16)}`, pos);
    wire += len + 1;
    if (wire > MAX_NAME_WIRE) throw new DnsDecodeError('ERR_WEFT_DNS_NAME_LONG', 'name longer than 255 octets', pos);
    if (pos + 1 + len > end) throw new DnsDecodeError('ERR_WEFT_DNS_SHORT', 'label runs past the end', pos);
    pos += 1 + len;
  }
}

/** Splits a text name into its wire labels (escapes resolved); throws DnsEncodeError. */
export function nameLabels(text: string): Uint8Array[] {
  const name = text.endsWith('.') && !text.endsWith('\\.') ? text.slice(0, -1) : text;
  if (name === '') return [];
  const labels: Uint8Array[] = [];
  let cur: number[] = [];
  let wire = 1;
  for (let i = 0; i < name.length; i++) {
    const ch = name.charCodeAt(i);
    if (ch === 0x2e) {
      labels.push(finishLabel(cur, text));
      wire += cur.length + 1;
      cur = [];
      continue;
    }
    if (ch === 0x5c) {
      const d = /^\d{3}/.exec(name.slice(i + 1, i + 4));
      if (d) {
        const v = Number(d[0]);
        if (v > 255) throw new DnsEncodeError(`bad escape \\${d[0]} in ${JSON.stringify(text)}`);
        cur.push(v);
        i += 3;
      } else if (i + 1 < name.length) {
        cur.push(name.charCodeAt(++i) & 0xff);
      } else {
        throw new DnsEncodeError(`dangling escape in ${JSON.stringify(text)}`);
      }
      continue;
    }
    if (ch > 0xff) throw new DnsEncodeError(`non-latin1 character in name ${JSON.stringify(text)}`);
    cur.push(ch);
  }
  labels.push(finishLabel(cur, text));
  wire += cur.length + 1;
  if (wire > MAX_NAME_WIRE) throw new DnsEncodeError(`name longer than 255 octets: ${JSON.stringify(text.slice(0, 40))}...`);
  return labels;
}

function finishLabel(bytes: number[], text: string): Uint8Array {
  if (bytes.length === 0) throw new DnsEncodeError(`empty label in ${JSON.stringify(text)}`);
  if (bytes.length > MAX_LABEL) throw new DnsEncodeError(`label longer than 63 octets in ${JSON.stringify(text.slice(0, 40))}`);
  return Uint8Array.from(bytes);
}

/** Lower-cased key of a text name (ASCII only, escapes kept), for maps. */
export function nameKey(text: string): string {
  const t = text.endsWith('.') && !text.endsWith('\\.') ? text.slice(0, -1) : text;
  return t.replace(/[A-Z]+/g, (m) => m.toLowerCase());
}

/** Whether a text name is valid on the wire. */
export function isValidName(text: string): boolean {
  try {
    nameLabels(text);
    return true;
  } catch {
    return false;
  }
}
