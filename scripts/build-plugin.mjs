#!/usr/bin/env node
/**
 * `npm run plugin`: builds the managed (v2) Docker plugin in dist/plugin/
 * from this checkout, offline: config.json plus a rootfs holding this host's
 * Node binary, the compiled tree, the production node_modules, the native
 * addon, the tools weft runs (nft, nsenter, sh; mount at start; src/io/process.ts) and every shared library
 * they load (found with ldd). No registry and no base image.
 *
 *   docker plugin create weft:dev dist/plugin && docker plugin enable weft:dev
 */
import { execFileSync } from 'node:child_process';
import { chmodSync, copyFileSync, cpSync, existsSync, mkdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(repo, 'dist', 'plugin');
const rootfs = join(out, 'rootfs');
const app = join(rootfs, 'weft');
const TOOLS = ['nft', 'nsenter', 'sh', 'mount'];

function fail(message) {
  process.stderr.write(`build-plugin: ${message}\n`);
  process.exit(1);
}

function which(name) {
  try {
    return execFileSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' }).trim();
  } catch {
    return fail(`${name} is not installed on this host (it goes into the plugin's rootfs)`);
  }
}

/** Shared libraries a binary loads, as ldd names them (the interpreter included). */
function libraries(binary) {
  const text = execFileSync('ldd', [binary], { encoding: 'utf8' });
  const libs = [];
  for (const line of text.split('\n')) {
    const m = /=>\s*(\/\S+)/.exec(line) ?? /^\s*(\/\S+)\s+\(0x/.exec(line);
    if (m) libs.push(m[1]);
  }
  return libs;
}

/** Copies a host file to the same path in the rootfs (through the rootfs's own /lib → usr/lib links). */
function copyHostFile(path) {
  const target = join(rootfs, realpathSync(dirname(path)), path.split('/').pop());
  mkdirSync(dirname(target), { recursive: true });
  copyFileSync(realpathSync(path), target);
  chmodSync(target, 0o755);
}

for (const f of ['dist/src/daemon/plugin-main.js', 'build/Release/weft_native.node', 'packaging/plugin/config.json']) {
  if (!existsSync(join(repo, f))) fail(`${f} is missing: run \`npm run build\` first`);
}

rmSync(out, { recursive: true, force: true });
mkdirSync(rootfs, { recursive: true });
copyFileSync(join(repo, 'packaging/plugin/config.json'), join(out, 'config.json'));

// The host's merged-/usr layout, so library paths ldd prints stay valid.
for (const d of ['usr/bin', 'usr/sbin', 'usr/lib', 'usr/lib64', 'proc', 'sys', 'dev', 'tmp', 'etc', 'run/docker/plugins', 'run/netns', 'var/lib/weft', 'var/lib/weft-propagated']) {
  mkdirSync(join(rootfs, d), { recursive: true });
}
chmodSync(join(rootfs, 'tmp'), 0o1777);
for (const [link, to] of [['bin', 'usr/bin'], ['sbin', 'usr/sbin'], ['lib', 'usr/lib'], ['lib64', 'usr/lib64'], ['var/run', '../run']]) {
  symlinkSync(to, join(rootfs, link));
}
writeFileSync(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
writeFileSync(join(rootfs, 'etc/group'), 'root:x:0:\n');

// Node as /usr/bin/node (the entrypoint's path), the tools where the host has them.
const node = process.execPath;
mkdirSync(join(rootfs, 'usr/bin'), { recursive: true });
copyFileSync(realpathSync(node), join(rootfs, 'usr/bin/node'));
chmodSync(join(rootfs, 'usr/bin/node'), 0o755);
const binaries = [node, ...TOOLS.map(which)];
for (const tool of binaries.slice(1)) copyHostFile(tool);
if (!existsSync(join(rootfs, 'usr/bin/sh'))) fail('sh did not land in /usr/bin');

// The application: compiled tree, addon, production dependencies.
mkdirSync(app, { recursive: true });
cpSync(join(repo, 'dist/src'), join(app, 'dist/src'), { recursive: true });
mkdirSync(join(app, 'build/Release'), { recursive: true });
copyFileSync(join(repo, 'build/Release/weft_native.node'), join(app, 'build/Release/weft_native.node'));
copyFileSync(join(repo, 'package.json'), join(app, 'package.json'));
const prod = execFileSync('npm', ['ls', '--omit=dev', '--all', '--parseable'], { cwd: repo, encoding: 'utf8' })
  .split('\n').map((l) => l.trim()).filter((l) => l && l !== repo);
for (const dir of prod) {
  const rel = relative(repo, dir);
  if (!rel.startsWith('node_modules/')) fail(`unexpected production package outside node_modules: ${dir}`);
  cpSync(dir, join(app, rel), { recursive: true });
}

// Every shared library of every binary and of the addon.
const libs = new Set();
for (const b of [...binaries, join(repo, 'build/Release/weft_native.node')]) for (const l of libraries(b)) libs.add(l);
for (const l of libs) copyHostFile(l);

process.stdout.write(`dist/plugin: config.json and rootfs (node ${process.version}, ${prod.length} production packages, ${libs.size} shared libraries)\n` +
  'install with: docker plugin create weft:dev dist/plugin && docker plugin enable weft:dev\n');
