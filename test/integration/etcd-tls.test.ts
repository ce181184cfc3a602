/**
 * The store connection, hardened: etcd with TLS (server and client
 * certificates made here with openssl) and password auth. The right
 * material connects; each kind of wrong material fails with ERR_WEFT_STORE_AUTH and
 * a message naming the cause, never "store unavailable"; passwords never
 * come from the URL and never appear in errors.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { EtcdStore, parseEtcdUrl } from '../../src/control/etcd-store.js';
import { etcdSkipReason, freePorts } from '../support/etcd.js';
import { have, run, sh } from '../support/exec.js';

const skip = (await etcdSkipReason()) ?? ((await have('openssl')) && (await have('etcdctl')) ? undefined : 'openssl or etcdctl missing');
if (skip) console.log(`# skipping etcd-tls: ${skip}`);

const PASSWORD = 'weft-s3cret-pw';

describe('etcd over TLS with auth', { skip }, () => {
  let dir: string;
  let etcd: ChildProcess | undefined;
  let url: string;
  const p = (f: string) => join(dir, f);

  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'weft-tls-'));
    const ossl = (...a: string[]) => sh(['openssl', ...a]);
    for (const ca of ['ca', 'otherca']) {
      await ossl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p(`${ca}.key`), '-subj', `/CN=${ca}`, '-days', '1', '-out', p(`${ca}.crt`));
    }
    for (const [name, cn, san] of [['server', '127.0.0.1', 'IP:127.0.0.1'], ['client', 'weft', 'DNS:weft']]) {
      await ossl('req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', p(`${name}.key`), '-subj', `/CN=${cn}`, '-out', p(`${name}.csr`));
      writeFileSync(p(`${name}.ext`), `subjectAltName=${san}\nextendedKeyUsage=serverAuth,clientAuth\n`);
      await ossl('x509', '-req', '-in', p(`${name}.csr`), '-CA', p('ca.crt'), '-CAkey', p('ca.key'), '-CAcreateserial', '-days', '1', '-extfile', p(`${name}.ext`), '-out', p(`${name}.crt`));
    }
    writeFileSync(p('pw'), `${PASSWORD}\n`, { mode: 0o600 });
    writeFileSync(p('badpw'), 'not-the-password\n', { mode: 0o600 });
    const [client, peer] = await freePorts(2);
    url = `127.0.0.1:${client}`;
    etcd = spawn('etcd', ['--name', 'tls', '--data-dir', p('data'),
      '--listen-client-urls', `https://${url}`, '--advertise-client-urls', `https://${url}`,
      '--listen-peer-urls', `http://127.0.0.1:${peer}`, '--initial-advertise-peer-urls', `http://127.0.0.1:${peer}`,
      '--initial-cluster', `tls=http://127.0.0.1:${peer}`,
      '--cert-file', p('server.crt'), '--key-file', p('server.key'), '--trusted-ca-file', p('ca.crt'), '--client-cert-auth'], { stdio: 'ignore' });
    const ctl = (...a: string[]) => run(['etcdctl', '--endpoints', `https://${url}`, '--cacert', p('ca.crt'), '--cert', p('client.crt'), '--key', p('client.key'), '--dial-timeout', '1s', ...a], { env: { ...process.env, ETCDCTL_API: '3' } });
    for (let i = 0; i < 100 && (await ctl('endpoint', 'health')).code !== 0; i++) await new Promise((r) => setTimeout(r, 100));
    for (const a of [['user', 'add', 'root', `--new-user-password=${PASSWORD}`], ['user', 'grant-role', 'root', 'root'], ['auth', 'enable']]) {
      const r = await ctl(...a);
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    if (etcd && etcd.exitCode === null) {
      etcd.kill('SIGKILL');
      await new Promise((r) => etcd!.once('exit', r));
    }
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const right = () => ({ ca: p('ca.crt'), cert: p('client.crt'), key: p('client.key'), user: 'root', passwordFile: p('pw') });

  it('connects with the right CA, client certificate and password (from a file)', async () => {
    const s = await EtcdStore.connect(`etcds://${url}`, right());
    try {
      assert.equal(s.tls, true);
      await s.put('tls-test', 'ok');
      assert.equal(await s.get('tls-test'), 'ok');
    } finally {
      await s.close();
    }
  });

  const fails = async (o: ReturnType<typeof right> | Partial<ReturnType<typeof right>>, cause: RegExp) => {
    await assert.rejects(EtcdStore.connect(`etcds://${url}`, o), (e: Error & { code?: string }) => {
      assert.equal(e.code, 'ERR_WEFT_STORE_AUTH', e.message);
      assert.match(e.message, cause);
      assert.doesNotMatch(e.message, new RegExp(PASSWORD));
      return true;
    });
  };

  it('wrong password: authentication failed, named as such', () => fails({ ...right(), passwordFile: p('badpw') }, /authentication failed/));
  it('wrong CA: etcd\'s certificate is not trusted', () => fails({ ...right(), ca: p('otherca.crt') }, /not trusted.*--etcd-ca/));
  it('no client certificate: etcd rejected it', () => fails({ ca: p('ca.crt'), user: 'root', passwordFile: p('pw') }, /rejected our client certificate/));

  it('bad combinations are refused before connecting; a password in the URL is refused and never echoed', () => {
    assert.throws(() => parseEtcdUrl(`etcds://${url}`, { cert: p('client.crt') }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => parseEtcdUrl(`etcd://${url}`, { ca: p('ca.crt') }), { code: 'ERR_WEFT_INVALID_ARGUMENT' });
    assert.throws(() => parseEtcdUrl(`etcd://root:${PASSWORD}@${url}`), (e: Error & { code?: string }) => e.code === 'ERR_WEFT_INVALID_ARGUMENT' && !e.message.includes(PASSWORD));
    // A client certificate without a CA is used (grpc then verifies etcd with the system roots).
    const o = parseEtcdUrl(`etcds://${url}`, { cert: p('client.crt'), key: p('client.key') });
    assert.ok(o.credentials?.certChain && o.credentials.privateKey);
    assert.equal(o.credentials.rootCertificate, null);
  });
});
