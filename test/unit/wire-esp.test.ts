/**
 * ESP header codec (src/wire/esp.ts): round trip over random headers,
 * reserved SPIs and truncation rejected, and the ESP part of the trace line
 * as `tcpdump -nn` prints it (the link-layer prefix is the trace printer's).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fc from 'fast-check';
import * as esp from '../../src/wire/esp.js';
import * as ethernet from '../../src/wire/ethernet.js';
import * as ipv4 from '../../src/wire/ipv4.js';
import { IPPROTO_ESP } from '../../src/wire/numbers.js';
import { PcapWriter } from '../../src/wire/pcap.js';

const cli = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src', 'cli', 'main.js');

test('esp: decode(encode(x)) == x for any SPI >= 256, sequence and payload', () => {
  fc.assert(fc.property(fc.integer({ min: 256, max: 0xffffffff }), fc.integer({ min: 0, max: 0xffffffff }), fc.uint8Array({ maxLength: 200 }), (spi, sequence, payload) => {
    const r = esp.decode(esp.encode({ spi, sequence, payload }));
    assert.equal(r.spi, spi);
    assert.equal(r.sequence, sequence);
    assert.deepEqual(Buffer.from(r.payload), Buffer.from(payload));
  }));
});

test('esp: check agrees with decode on arbitrary bytes', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 40 }), (b) => {
    const reason = esp.check(b, 0, b.length);
    if (reason) assert.throws(() => esp.decode(b), { code: 'ERR_WEFT_DECODE' });
    else assert.equal(esp.decode(b).payload.length, b.length - 8);
  }));
  assert.equal(esp.check(Uint8Array.of(0, 0, 0, 255, 0, 0, 0, 1), 0, 8), 'invalid-header');
  assert.equal(esp.check(Uint8Array.of(1, 2, 3), 0, 3), 'truncated');
  assert.throws(() => esp.encode({ spi: 5, sequence: 0, payload: new Uint8Array() }), RangeError);
});

test('esp: tcpdump style text', () => {
  assert.equal(esp.describe({ spi: 0x8a3b19c2, sequence: 42 }), 'ESP(spi=0x8a3b19c2,seq=0x2a)');
});

test('weft trace read prints ESP like tcpdump -nn -r', { skip: tcpdumpSkip() }, async () => {
  const dir = mkdtempSync(join(tmpdir(), 'weft-esp-'));
  try {
    const file = join(dir, 'esp.pcap');
    const chunks: Uint8Array[] = [];
    const w = new PcapWriter((b) => chunks.push(Buffer.from(b)));
    const frames = [[0x8a3b19c2, 42], [0x00000100, 0], [0xffffffff, 0xdeadbeef]] as const;
    for (const [i, [spi, sequence]] of frames.entries()) {
      const ip = ipv4.encode({
        dscp: 0, ecn: 0, identification: i, dontFragment: true, moreFragments: false, fragmentOffset: 0, ttl: 64, protocol: IPPROTO_ESP,
        source: '198.18.0.1', destination: '198.18.0.2', options: new Uint8Array(), payload: esp.encode({ spi, sequence, payload: new Uint8Array(48).fill(0x77) }),
      });
      w.packet(1_700_000_000 + i, 0, ethernet.encode({ destination: '02:00:00:00:00:02', source: '02:00:00:00:00:01', etherType: 0x0800, payload: ip }));
    }
    w.flush();
    writeFileSync(file, Buffer.concat(chunks));
    const strip = (s: string) => s.trim().split('\n').map((l) => l.slice(l.indexOf(' IP ') + 1));
    const want = strip(execFileSync('tcpdump', ['-nn', '-r', file], { stdio: ['ignore', 'pipe', 'ignore'] }).toString());
    const got = strip(execFileSync(process.execPath, [cli, 'trace', 'read', file]).toString());
    assert.deepEqual(got, want);
    assert.match(got[0]!, /ESP\(spi=0x8a3b19c2,seq=0x2a\), length 56/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

function tcpdumpSkip(): string | undefined {
  try {
    execFileSync('tcpdump', ['--version'], { stdio: 'ignore' });
    return undefined;
  } catch {
    return 'tcpdump not installed (the golden oracle)';
  }
}
