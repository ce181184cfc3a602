/**
 * nlmsghdr framing: len u32, type u16, flags u16, seq u32, pid u32 (16 bytes),
 * payload padded to 4. A datagram from the kernel holds one or more messages.
 */
import { NetlinkDecodeError } from '../errors.js';
import { AttrWriter, parseAttrs, read } from './attrs.js';
import {
  NLMSG_HDRLEN, NLMSGERR_ATTR_MSG, NLMSGERR_ATTR_OFFS, NLM_F_ACK_TLVS, NLM_F_CAPPED, align4,
} from './constants.js';

export interface MessageHeader {
  length: number;
  type: number;
  flags: number;
  seq: number;
  pid: number;
}

/** A message: header plus payload (a view into the received datagram). */
export interface Message extends MessageHeader {
  payload: Buffer;
  /** Offset of this message within its datagram (for error reports). */
  offset: number;
}

/**
 * Starts a request: writes a placeholder nlmsghdr; fill in the payload with
 * the writer, then call finishMessage().
 */
export function beginMessage(w: AttrWriter, type: number, flags: number): number {
  const at = w.zeros(NLMSG_HDRLEN);
  w.buf.writeUInt16LE(type, at + 4);
  w.buf.writeUInt16LE(flags, at + 6);
  return at;
}

/** Writes the length and sequence number of a message begun at `at`. */
export function finishMessage(w: AttrWriter, at: number, seq: number, pid = 0): void {
  w.buf.writeUInt32LE(w.length - at, at);
  w.buf.writeUInt32LE(seq >>> 0, at + 8);
  w.buf.writeUInt32LE(pid >>> 0, at + 12);
}

/**
 * Splits a datagram into messages. Never trusts nlmsg_len: a length below
 * the header or past the datagram's end is a NetlinkDecodeError.
 */
export function parseMessages(buf: Buffer, length = buf.length): Message[] {
  const out: Message[] = [];
  let off = 0;
  while (off < length) {
    if (length - off < NLMSG_HDRLEN) throw new NetlinkDecodeError(`truncated header (${length - off} bytes)`, off);
    const len = buf.readUInt32LE(off);
    if (len < NLMSG_HDRLEN) throw new NetlinkDecodeError(`message length ${len} < ${NLMSG_HDRLEN}`, off);
    if (off + len > length) throw new NetlinkDecodeError(`message length ${len} runs past the datagram (${length - off} left)`, off);
    out.push({
      length: len,
      type: buf.readUInt16LE(off + 4),
      flags: buf.readUInt16LE(off + 6),
      seq: buf.readUInt32LE(off + 8),
      pid: buf.readUInt32LE(off + 12),
      payload: buf.subarray(off + NLMSG_HDRLEN, off + len),
      offset: off,
    });
    off += align4(len);
  }
  return out;
}

export interface ErrorPayload {
  /** 0 for an ACK, else a negative errno. */
  error: number;
  /** Header of the request this answers. */
  request: MessageHeader;
  extackMessage?: string;
  extackOffset?: number;
}

/** Decodes struct nlmsgerr and, when present, the extended-ACK TLVs. */
export function parseErrorPayload(m: Message): ErrorPayload {
  const p = m.payload;
  if (p.length < 4 + NLMSG_HDRLEN) throw new NetlinkDecodeError(`error message too short (${p.length} bytes)`, m.offset);
  const error = p.readInt32LE(0);
  const request: MessageHeader = {
    length: p.readUInt32LE(4),
    type: p.readUInt16LE(8),
    flags: p.readUInt16LE(10),
    seq: p.readUInt32LE(12),
    pid: p.readUInt32LE(16),
  };
  const out: ErrorPayload = { error, request };
  if (m.flags & NLM_F_ACK_TLVS) {
    // Without NLM_F_CAPPED the whole request is echoed before the TLVs.
    const echoed = m.flags & NLM_F_CAPPED ? NLMSG_HDRLEN : Math.max(NLMSG_HDRLEN, request.length);
    const start = 4 + align4(echoed);
    if (start <= p.length) {
      for (const a of parseAttrs(p, start, p.length)) {
        if (a.type === NLMSGERR_ATTR_MSG) out.extackMessage = read.string(a.data);
        else if (a.type === NLMSGERR_ATTR_OFFS && a.data.length >= 4) out.extackOffset = read.u32(a.data);
      }
    }
  }
  return out;
}
