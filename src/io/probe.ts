/**
 * Quick reachability probes for `weft status`: one ICMP echo through the
 * system's ping (iputils, or busybox's), and a TCP connect with its time.
 */
import { existsSync } from 'node:fs';
import { runProgram } from './process.js';
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
  const done = (ok: boolean): ProbeResult => {
    const ms = performance.now() - t0;
    return ok ? { ok: true, ms } : { ok: false, ms, error: 'no echo reply' };
  };
  return runProgram('ping', [...cmd.slice(1), '-c', '1', '-W', wait, address], { path: cmd[0]!, timeoutMs: timeoutMs + 2000 })
    .then((r) => done(r.status === 0), () => done(false));
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
