/**
 * The error catalogue (src/errors.ts, docs/errors.md) stays the one place
 * that defines weft's errors: every WeftError subclass lives there, every
 * code is namespaced, unique and documented, and kernel errnos are a field.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as catalogue from '../../src/errors.js';
import { ERROR_CODES, NetlinkError, RtnlObjectError, SysError, WeftError, errnoOf, isErrno } from '../../src/errors.js';

const root = fileURLToPath(new URL('../../../', import.meta.url));
const CATALOGUE = 'src/errors.ts';

function sources(dir: string, out: string[] = []): string[] {
  for (const name of readdirSync(join(root, dir)).sort()) {
    const rel = `${dir}/${name}`;
    if (statSync(join(root, rel)).isDirectory()) sources(rel, out);
    else if (name.endsWith('.ts')) out.push(rel);
  }
  return out;
}

const classes = Object.entries(catalogue)
  .filter(([, v]) => typeof v === 'function' && (v === WeftError || v.prototype instanceof WeftError))
  .map(([k]) => k);

test('every code is ERR_WEFT_…, unique, and listed in docs/errors.md', () => {
  const docs = readFileSync(join(root, 'docs/errors.md'), 'utf8');
  assert.equal(new Set(ERROR_CODES).size, ERROR_CODES.length, 'duplicate code');
  for (const code of ERROR_CODES) {
    assert.match(code, /^ERR_WEFT_[A-Z0-9_]+$/);
    assert.ok(docs.includes(`\`${code}\``), `${code} is not in docs/errors.md`);
  }
  for (const name of classes) assert.ok(docs.includes(`\`${name}\``), `${name} is not in docs/errors.md`);
});

test('every class that extends WeftError (or one of its subclasses) is defined in the catalogue', () => {
  const bases = new Set(classes);
  const outside: string[] = [];
  for (const file of [...sources('src'), ...sources('bench'), ...sources('fuzz')]) {
    if (file === CATALOGUE) continue;
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/class\s+(\w+)\s+extends\s+(\w+)/g)) {
      if (bases.has(m[2]!)) outside.push(`${file}: ${m[1]} extends ${m[2]}`);
    }
  }
  assert.deepEqual(outside, []);
});

test('every ERR_WEFT_ literal in src/ is a catalogued code', () => {
  const known = new Set<string>(ERROR_CODES);
  const unknown: string[] = [];
  for (const file of sources('src')) {
    const text = readFileSync(join(root, file), 'utf8');
    for (const m of text.matchAll(/ERR_WEFT_[A-Z0-9_]+/g)) if (!known.has(m[0])) unknown.push(`${file}: ${m[0]}`);
  }
  assert.deepEqual(unknown, []);
});

test('a kernel errno is a field, never the code', () => {
  const nl = new NetlinkError('EEXIST', 17, 16, 'create link x', { message: 'File exists' });
  assert.equal(nl.code, 'ERR_WEFT_NETLINK');
  assert.equal(nl.errno, 'EEXIST');
  assert.equal(nl.errnoNumber, 17);
  assert.equal(nl.message, 'create link x failed: EEXIST: File exists');
  assert.ok(isErrno(nl, 'ENOENT', 'EEXIST'));
  assert.ok(!isErrno(nl, 'ENOENT'));
  const sys = new SysError('ENODEV', 19, 'bind', 'bind: No such device');
  assert.equal(sys.code, 'ERR_WEFT_SYSCALL');
  assert.equal(errnoOf(sys), 'ENODEV');
  assert.ok(!isErrno(sys, 'ENODEV'), 'isErrno is for netlink replies');
  const obj = new RtnlObjectError('ERR_WEFT_ROUTE', 'add route 198.18.0.0/16', nl);
  assert.equal(obj.code, 'ERR_WEFT_ROUTE');
  assert.equal(errnoOf(obj), 'EEXIST');
  assert.equal(obj.message, 'add route 198.18.0.0/16: EEXIST: File exists');
  // Node's own system errors keep their errno name in `code` and are not WeftErrors.
  const fsErr = Object.assign(new Error('ENOENT: no such file'), { code: 'ENOENT', errno: 'ENOENT' });
  assert.equal(errnoOf(fsErr), undefined);
  assert.equal(errnoOf(undefined), undefined);
});
