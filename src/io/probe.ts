/**
 * Quick reachability probes for `weft status`: one ICMP echo through the
 * system's ping (iputils, or busybox's), and a TCP connect with its time.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { connectTcp } from './tcp.js';

export interface ProbeResult {
  ok: boolean;
  ms: number;
  error?: string;
}

function pingCommand(): string[] | undefined {
  for (const dir of ['/usr/bin', '/bin', '/usr/sbin', '/sbin']) if (existsSync(`${dir}/ping`)) return [`${dir}/ping`];
  for (const dir of ['/usr/bin', '/bin']) if (existsSync(`${dir}/busybox`)) return [`${dir}/busybox`, 'ping'];
  return undefined;
}

/** One echo request; ok when a reply came within timeoutMs (whole seconds for ping's -W, at least 1). */
export function pingOnce(address: string, timeoutMs: number): Promise<ProbeResult> {
  const cmd = pingCommand();
  if (!cmd) return Promise.resolve({ ok: false, ms: 0, error: 'no ping command on this host' });
  const t0 = performance.now();
  const wait = String(Math.max(1, Math.ceil(timeoutMs / 1000)));
  return new Promise((resolve) => {
    execFile(cmd[0]!, [...cmd.slice(1), '-c', '1', '-W', wait, address], { timeout: timeoutMs + 2000 }, (err) => {
      const ms = performance.now() - t0;
      resolve(err ? { ok: false, ms, error: 'no echo reply' } : { ok: true, ms });
    });
  });
}

/** A TCP connection opened and closed at once. */
export async function tcpProbe(address: string, port: number, timeoutMs: number): Promise<ProbeResult> {
  const t0 = performance.now();
  try {
    const s = await connectTcp(address, port, undefined, timeoutMs);
    s.destroy();
    return { ok: true, ms: performance.now() - t0 };
  } catch (err) {
    return { ok: false, ms: performance.now() - t0, error: (err as Error).message };
  }
}
