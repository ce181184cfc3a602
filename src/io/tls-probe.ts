/**
 * Why a TLS handshake fails: grpc reports a failed TLS connection to etcd
 * only as "No connection established", so the store repeats the handshake
 * here with the same material to name the cause (unknown CA, missing client
 * certificate, ...). Resolves undefined when the handshake succeeds.
 */
import { connect } from 'node:tls';

export interface TlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export function tlsHandshakeError(host: string, port: number, m: TlsMaterial, timeoutMs = 3000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = connect({
      host, port, ALPNProtocols: ['h2'],
      ...(m.ca ? { ca: m.ca } : {}), ...(m.cert ? { cert: m.cert } : {}), ...(m.key ? { key: m.key } : {}),
      // Node refuses an IP as SNI; certificates for IPs are still checked against the address.
      ...(/^[\d.]+$|:/.test(host) ? {} : { servername: host }),
    });
    // A server that wants a client certificate says so (an alert) just after the handshake.
    sock.once('secureConnect', () => setTimeout(() => done(undefined), 300));
    sock.once('error', (err: NodeJS.ErrnoException) => done(err.code === 'ECONNREFUSED' || err.code === 'EHOSTUNREACH' ? undefined : err.message));
    const timer = setTimeout(() => done(undefined), timeoutMs);
  });
}
