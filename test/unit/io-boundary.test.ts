/**
 * The I/O boundary of DEVELOPERS.md, enforced: only src/io/ touches
 * sockets, files, processes and the native addon. Every src/**.ts is read
 * and its imports checked; a failure names the file and the import.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

const repo = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Modules that open files, sockets or processes, or load native code. */
const IO_MODULES = new Set([
  'fs', 'fs/promises', 'net', 'dgram', 'http', 'http2', 'https', 'tls', 'child_process', 'cluster', 'module',
].flatMap((m) => [m, `node:${m}`]).concat([
  // A gRPC client: it opens its own sockets.
  'etcd3',
]));

/** Within src/io/, the one module allowed each of these. */
const ONE_HOME: Record<string, string> = {
  'node:child_process': 'src/io/process.ts',
  'node:module': 'src/io/native.ts',
  etcd3: 'src/io/etcd-client.ts',
};

interface ImportSite {
  specifier: string;
  /** `import type …`, or every named binding is `type X`: erased, no code runs. */
  typeOnly: boolean;
  names: string[];
}

/** Static, re-export, side-effect and dynamic imports and require() calls of a TypeScript source. */
function importsOf(source: string): ImportSite[] {
  const text = source.replace(/\/\*[\s\S]*?\*\//g, '').replace(/^\s*\/\/.*$/gm, '');
  const out: ImportSite[] = [];
  for (const m of text.matchAll(/^\s*(?:import|export)\s+(type\s+)?([^'";]*?)\s+from\s+['"]([^'"]+)['"]/gm)) {
    const clause = m[2]!;
    const named = /\{([^}]*)\}/.exec(clause)?.[1]?.split(',').map((s) => s.trim()).filter(Boolean) ?? [];
    const outside = clause.replace(/\{[^}]*\}/, '').replace(/,/g, ' ').trim();
    const typeOnly = m[1] !== undefined || (outside === '' && named.length > 0 && named.every((n) => n.startsWith('type ')));
    const names = named.map((n) => n.replace(/^type\s+/, '').split(/\s+as\s+/)[0]!.trim());
    if (outside) names.push(outside);
    out.push({ specifier: m[3]!, typeOnly, names });
  }
  for (const m of text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)) out.push({ specifier: m[1]!, typeOnly: false, names: [] });
  for (const m of text.matchAll(/\b(?:import|require)\(\s*['"]([^'"]+)['"]\s*\)/g)) out.push({ specifier: m[1]!, typeOnly: false, names: [] });
  return out;
}

/** Why `file` (repository-relative) breaks the boundary, one line per offending import. */
function violations(file: string, source: string): string[] {
  const inIo = file.startsWith('src/io/');
  const out: string[] = [];
  for (const imp of importsOf(source)) {
    if (imp.typeOnly) continue;
    const spec = imp.specifier;
    if (spec.endsWith('.node')) {
      if (!inIo) out.push(`${file}: loads a native addon (${spec}); only src/io/native.ts does`);
      continue;
    }
    if (IO_MODULES.has(spec)) {
      const key = spec === 'etcd3' || spec.startsWith('node:') ? spec : `node:${spec}`;
      const home = ONE_HOME[key];
      if (home !== undefined && file !== home) out.push(`${file}: imports ${spec}; only ${home} may`);
      else if (!inIo) out.push(`${file}: imports ${spec}; only src/io/ may (use or add an io/ module)`);
      continue;
    }
    // The raw addon object: outside io/ only the typed functions of io/native.ts (netnsPath, errnoName, closeFd, SysError).
    if (!inIo && /(^|\/)io\/native\.js$/.test(spec) && imp.names.some((n) => n === 'native' || n.startsWith('*'))) {
      out.push(`${file}: imports native() from ${spec}; call the addon through an io/ module`);
    }
  }
  return out;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir).sort()) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) sources(path, out);
    else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(path);
  }
  return out;
}

test('io boundary: only src/io/ imports fs, net, dgram, http(s/2), tls, child_process, module, etcd3 or the addon', () => {
  const files = sources(join(repo, 'src'));
  assert.ok(files.length > 100, `expected the source tree under ${repo}/src`);
  const found = files.flatMap((f) => violations(relative(repo, f), readFileSync(f, 'utf8')));
  assert.deepEqual(found, []);
});

test('io boundary: the checker sees every import form', () => {
  const src = [
    "import { readFileSync } from 'node:fs';",
    "import net from 'net';",
    'import {',
    '  request,',
    "} from 'node:http';",
    "import type { Server } from 'node:https';",
    "import { type Socket } from 'node:tls';",
    "export { spawn } from 'node:child_process';",
    "const m = await import('node:dgram');",
    "const addon = require('../build/Release/weft_native.node');",
    "import { native, netnsPath } from '../io/native.js';",
    "import { netnsPath as p } from '../io/native.js';",
    "import * as io from '../../io/native.js';",
    "import { Etcd3 } from 'etcd3';",
    "// import { x } from 'node:http2';",
    "import { Worker } from 'node:worker_threads';",
  ].join('\n');
  assert.deepEqual(violations('src/dns/x.ts', src), [
    'src/dns/x.ts: imports node:fs; only src/io/ may (use or add an io/ module)',
    'src/dns/x.ts: imports net; only src/io/ may (use or add an io/ module)',
    'src/dns/x.ts: imports node:http; only src/io/ may (use or add an io/ module)',
    'src/dns/x.ts: imports node:child_process; only src/io/process.ts may',
    'src/dns/x.ts: imports native() from ../io/native.js; call the addon through an io/ module',
    'src/dns/x.ts: imports native() from ../../io/native.js; call the addon through an io/ module',
    'src/dns/x.ts: imports etcd3; only src/io/etcd-client.ts may',
    'src/dns/x.ts: imports node:dgram; only src/io/ may (use or add an io/ module)',
    'src/dns/x.ts: loads a native addon (../build/Release/weft_native.node); only src/io/native.ts does',
  ]);
  assert.deepEqual(violations('src/io/nft.ts', "import { spawn } from 'node:child_process';"), ['src/io/nft.ts: imports node:child_process; only src/io/process.ts may']);
  assert.deepEqual(violations('src/io/udp.ts', "import { createSocket } from 'node:dgram';\nimport { native } from './native.js';"), []);
});
