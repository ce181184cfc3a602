/*
 * The filtered `weft trace read`'s skip loop in C (src/io/bpf-scan.ts is the
 * only caller; src/wire/pcapng.ts and src/wire/pcap.ts #skipRun are the
 * JavaScript forms it must agree with): from `start`, a run of well-formed
 * records that the prefilter's classic BPF program rejects is only counted.
 * It stops, without judging, at the first record that is not plain (options,
 * another link type, a length that needs a warning or an error) or that the
 * program keeps; the JavaScript parser then handles that record in full.
 * So a capture of many small packets is walked at C speed and only the few
 * the filter may want are decoded.
 *
 * The program runs as src/trace/bpf.ts bpfToFunction does: a load past the
 * captured bytes, an unknown opcode or a jump out of the program keeps the
 * packet (the exact filter decides later), RET k keeps it when k != 0.
 *
 *   bpfSkipPcapng(buf, start, end, littleEndian, snaplens, program, out) -> bytes
 *       Enhanced Packet Blocks only; snaplens (Int32Array) is indexed by
 *       interface id: that interface's snap length, or -1 when its link type
 *       is not the program's.
 *   bpfSkipPcap(buf, start, end, littleEndian, snaplen, program, out) -> bytes
 *       pcap records (16-byte header), all of the file's one link type.
 *
 *   bpfRun(buf, offset, caplen, wirelen, program) -> the program's verdict
 *       on one packet, buf[offset, offset + caplen).
 *
 * program is encodeBpf's 8-byte struct sock_filter entries (native byte
 * order); out (Uint32Array) gets the number of records skipped in out[0].
 */
#include <stdint.h>
#include <string.h>

#include <node_api.h>

#include "bpf-scan.h"

#define EPB 6u
#define EPB_HEADER 28u
#define PCAP_HEADER 16u

struct insn {
  uint16_t code;
  uint8_t jt, jf;
  uint32_t k;
};

static uint32_t rd32(const uint8_t *p, int le) {
  return le ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24
            : (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Nonzero keeps the packet b[0, n) whose length on the wire was wirelen. */
static uint32_t run(const struct insn *prog, uint32_t len, const uint8_t *b, uint32_t n, uint32_t wirelen) {
  uint32_t a = 0, x = 0;
  for (uint32_t pc = 0; pc < len; pc++) {
    const struct insn *i = &prog[pc];
    uint32_t k = i->k;
    switch (i->code) {
      case 0x20: /* ld [k] */
        if (k > n || n - k < 4) return 1;
        a = rd32(b + k, 0);
        break;
      case 0x28: /* ldh [k] */
        if (k > n || n - k < 2) return 1;
        a = (uint32_t)b[k] << 8 | b[k + 1];
        break;
      case 0x30: /* ldb [k] */
        if (k >= n) return 1;
        a = b[k];
        break;
      case 0x48: /* ldh [x + k] */
        if ((uint64_t)x + k + 2 > n) return 1;
        a = (uint32_t)b[x + k] << 8 | b[x + k + 1];
        break;
      case 0xb1: /* ldx 4 * ([k] & 0xf) */
        if (k >= n) return 1;
        x = (uint32_t)(b[k] & 0xf) * 4;
        break;
      case 0x80: /* ld #len */
        a = wirelen;
        break;
      case 0x54: /* and #k */
        a &= k;
        break;
      case 0x15: pc += a == k ? i->jt : i->jf; break;
      case 0x25: pc += a > k ? i->jt : i->jf; break;
      case 0x35: pc += a >= k ? i->jt : i->jf; break;
      case 0x45: pc += (a & k) ? i->jt : i->jf; break;
      case 0x06: return k;
      default: return 1;
    }
  }
  /* Fell off the end (a jump past the last instruction): keep. */
  return 1;
}

#define CHECK(call)                                                            \
  do {                                                                         \
    if ((call) != napi_ok) return NULL;                                        \
  } while (0)

#define BAD_ARG(what)                                                          \
  do {                                                                         \
    napi_throw_type_error(env, "EINVALARG", what);                             \
    return NULL;                                                               \
  } while (0)

static int typed(napi_env env, napi_value v, napi_typedarray_type want, void **data, size_t *count) {
  bool is = false;
  napi_typedarray_type type;
  napi_value ab;
  size_t offset;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return 0;
  if (napi_get_typedarray_info(env, v, &type, count, data, &ab, &offset) != napi_ok) return 0;
  return type == want || (want == napi_uint8_array && type == napi_uint8_clamped_array);
}

struct scan_args {
  const uint8_t *buf;
  uint32_t start, end;
  int le;
  const struct insn *prog;
  uint32_t prog_len;
  uint32_t *out;
};

/* The arguments both functions share; argv[4] is left to the caller. */
static int scan_args(napi_env env, napi_value *argv, struct scan_args *s) {
  void *buf, *prog, *out;
  size_t buf_len, prog_bytes, out_len;
  bool le;
  if (!typed(env, argv[0], napi_uint8_array, &buf, &buf_len) ||
      napi_get_value_uint32(env, argv[1], &s->start) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &s->end) != napi_ok ||
      napi_get_value_bool(env, argv[3], &le) != napi_ok ||
      !typed(env, argv[5], napi_uint8_array, &prog, &prog_bytes) ||
      !typed(env, argv[6], napi_uint32_array, &out, &out_len))
    return 0;
  if (s->start > s->end || s->end > buf_len || prog_bytes % sizeof(struct insn) != 0 || out_len < 1) return 0;
  s->buf = buf;
  s->le = le;
  s->prog = prog;
  s->prog_len = (uint32_t)(prog_bytes / sizeof(struct insn));
  s->out = out;
  return 1;
}

static napi_value bytes_skipped(napi_env env, uint32_t n) {
  napi_value v;
  CHECK(napi_create_uint32(env, n, &v));
  return v;
}

napi_value BpfSkipPcapng(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct scan_args s;
  void *snaps;
  size_t nifaces;
  if (argc < 7 || !scan_args(env, argv, &s) || !typed(env, argv[4], napi_int32_array, &snaps, &nifaces))
    BAD_ARG("bpfSkipPcapng(buf, start, end, littleEndian, snaplens, program, out)");
  const int32_t *snaplens = snaps;
  const uint8_t *b = s.buf;
  uint32_t p = s.start, skipped = 0;
  while (s.end - p >= 32 && rd32(b + p, s.le) == EPB) {
    uint32_t len = rd32(b + p + 4, s.le);
    if (len > s.end - p) break;
    uint32_t id = rd32(b + p + 8, s.le);
    if (id >= nifaces || snaplens[id] < 0) break;
    uint32_t caplen = rd32(b + p + 20, s.le);
    uint32_t origlen = rd32(b + p + 24, s.le);
    if (caplen > (uint32_t)snaplens[id] || caplen > origlen) break;
    /* Exactly the padded data, no options, and a matching trailer. */
    if (caplen > 0xfffffff0u || len != 32 + ((caplen + 3) & ~3u) || rd32(b + p + len - 4, s.le) != len) break;
    if (run(s.prog, s.prog_len, b + p + EPB_HEADER, caplen, origlen) != 0) break;
    skipped++;
    p += len;
  }
  s.out[0] = skipped;
  return bytes_skipped(env, p - s.start);
}

napi_value BpfSkipPcap(napi_env env, napi_callback_info info) {
  size_t argc = 7;
  napi_value argv[7];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  struct scan_args s;
  uint32_t snaplen;
  if (argc < 7 || !scan_args(env, argv, &s) || napi_get_value_uint32(env, argv[4], &snaplen) != napi_ok)
    BAD_ARG("bpfSkipPcap(buf, start, end, littleEndian, snaplen, program, out)");
  const uint8_t *b = s.buf;
  uint32_t p = s.start, skipped = 0;
  while (s.end - p >= PCAP_HEADER) {
    uint32_t caplen = rd32(b + p + 8, s.le);
    uint32_t origlen = rd32(b + p + 12, s.le);
    if (caplen > snaplen || caplen > origlen || caplen > s.end - p - PCAP_HEADER) break;
    if (run(s.prog, s.prog_len, b + p + PCAP_HEADER, caplen, origlen) != 0) break;
    skipped++;
    p += PCAP_HEADER + caplen;
  }
  s.out[0] = skipped;
  return bytes_skipped(env, p - s.start);
}

napi_value BpfRun(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  void *buf, *prog;
  size_t buf_len, prog_bytes;
  uint32_t off, caplen, wirelen;
  if (argc < 5 || !typed(env, argv[0], napi_uint8_array, &buf, &buf_len) ||
      napi_get_value_uint32(env, argv[1], &off) != napi_ok ||
      napi_get_value_uint32(env, argv[2], &caplen) != napi_ok ||
      napi_get_value_uint32(env, argv[3], &wirelen) != napi_ok ||
      !typed(env, argv[4], napi_uint8_array, &prog, &prog_bytes) || prog_bytes % sizeof(struct insn) != 0 ||
      off > buf_len || caplen > buf_len - off)
    BAD_ARG("bpfRun(buf, offset, caplen, wirelen, program)");
  napi_value v;
  CHECK(napi_create_uint32(env, run(prog, (uint32_t)(prog_bytes / sizeof(struct insn)), (const uint8_t *)buf + off, caplen, wirelen), &v));
  return v;
}
