// Trunk post_build hook (see Trunk.toml), after minify-js.mjs: gives the wasm's imports short
// names. wasm-bindgen names each JS function the wasm imports `__wbg_<name>_<16 hex digits>` under
// the module "./commonplace_bg.js", and each name is written twice, in the wasm's import section
// and as a key of the loader's imports object. ~300 of them: 10 kB of the wasm and of the JS,
// and the hex digits do not compress (about 9 kB of the gzipped download, issue 14). Here each
// becomes `a`, `b`, .. `aa`, .., and the module `a`, in both files alike.
//
// Checked, or the build fails: every import of that module has exactly one `name:` key in the
// loader, and the module key once. Nothing else in either file changes (the wasm's other
// sections are copied byte for byte), so the app behaves the same. Each file keeps its name
// (Trunk's hash, taken before, still changes exactly when the content does, as in
// minify-js.mjs); index.html's `integrity="sha384-…"` of both is replaced.
//
// Usage: TRUNK_STAGING_DIR=dist/.stage node scripts/short-imports.mjs   (trunk sets the variables)

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, replaceOnce } from './hook.mjs';

const MODULE = './commonplace_bg.js';
const SHORT_MODULE = 'a';

let dir = '';
let wasmName = '';
let jsName = '';

function main() {
  dir = process.env.TRUNK_STAGING_DIR;
  if (!dir) fail('TRUNK_STAGING_DIR is not set (trunk sets it for a post_build hook)');
  // As minify-js.mjs: a debug build keeps the names one can read.
  if (process.env.TRUNK_PROFILE === 'debug') process.exit(0);

  const files = readdirSync(dir);
  wasmName = one(files.filter((f) => f.endsWith('_bg.wasm')), 'wasm');
  jsName = one(files.filter((f) => f === wasmName.replace(/_bg\.wasm$/, '.js')), 'JS loader');
  const indexPath = path.join(dir, 'index.html');
  const wasmPath = path.join(dir, wasmName);
  const jsPath = path.join(dir, jsName);

  const wasmBefore = readFileSync(wasmPath);
  const jsBefore = readFileSync(jsPath);
  const { wasm, names } = renameImports(wasmBefore);
  let js = jsBefore.toString('utf8');
  for (const [long, short] of names) js = replaceOnce(js, `${long}:`, `${short}:`, `${jsName}, the key for ${long}`);
  js = replaceOnce(js, `${JSON.stringify(MODULE)}:`, `${SHORT_MODULE}:`, `${jsName}, the key for ${MODULE}`);

  let index = readFileSync(indexPath, 'utf8');
  const jsAfter = Buffer.from(js, 'utf8');
  for (const [name, before, after] of [[wasmName, wasmBefore, wasm], [jsName, jsBefore, jsAfter]]) {
    const [oldSri, newSri] = [sri(before), sri(after)];
    if (index.includes(oldSri)) index = index.split(oldSri).join(newSri);
    else if (index.includes(name)) fail(`index.html names ${name} without its integrity hash ${oldSri}`);
  }
  writeFileSync(wasmPath, wasm);
  writeFileSync(jsPath, jsAfter);
  writeFileSync(indexPath, index);
  console.log(`short-imports: ${names.size} imports; ${wasmName} ${wasmBefore.length} -> ${wasm.length} bytes, `
    + `${jsName} ${jsBefore.length} -> ${jsAfter.length} bytes`);
}

/** The wasm with MODULE's imports renamed, and the names given (long -> short). */
function renameImports(bytes) {
  const reader = new Reader(bytes);
  if (bytes.readUInt32LE(0) !== 0x6d736100 || bytes.readUInt32LE(4) !== 1) fail(`${wasmName} is not a wasm module`);
  reader.at = 8;
  const parts = [bytes.subarray(0, 8)];
  const names = new Map();
  let found = false;
  while (reader.at < bytes.length) {
    const start = reader.at;
    const id = reader.byte();
    const size = reader.u32();
    const end = reader.at + size;
    if (id !== 2) {
      parts.push(bytes.subarray(start, end));
      reader.at = end;
      continue;
    }
    found = true;
    const body = [];
    const count = reader.u32();
    body.push(leb(count));
    for (let i = 0; i < count; i++) {
      const module = reader.name();
      const field = reader.name();
      const descStart = reader.at;
      reader.importDesc();
      const desc = bytes.subarray(descStart, reader.at);
      if (module === MODULE) {
        if (names.has(field)) fail(`${wasmName} imports ${field} twice`);
        const short = shortName(names.size);
        names.set(field, short);
        body.push(nameBytes(SHORT_MODULE), nameBytes(short), desc);
      } else {
        body.push(nameBytes(module), nameBytes(field), desc);
      }
    }
    if (reader.at !== end) fail(`${wasmName}: the import section does not end where its size says`);
    const content = Buffer.concat(body);
    parts.push(Buffer.from([2]), leb(content.length), content);
  }
  if (!found || names.size === 0) fail(`${wasmName} imports nothing from ${MODULE}`);
  return { wasm: Buffer.concat(parts), names };
}

/** a..z, A..Z, then two letters and so on: all valid as unquoted object keys in JS. */
function shortName(n) {
  const letters = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
  let s = '';
  do {
    s = letters[n % letters.length] + s;
    n = Math.floor(n / letters.length);
  } while (n > 0);
  return s;
}

class Reader {
  constructor(bytes) {
    this.bytes = bytes;
    this.at = 0;
  }
  byte() {
    if (this.at >= this.bytes.length) fail(`${wasmName} ends early`);
    return this.bytes[this.at++];
  }
  u32() {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
    }
    return fail(`${wasmName}: a LEB128 number is too long`);
  }
  name() {
    const length = this.u32();
    const start = this.at;
    this.at += length;
    if (this.at > this.bytes.length) fail(`${wasmName} ends early`);
    return this.bytes.subarray(start, this.at).toString('utf8');
  }
  limits() {
    const flags = this.byte();
    this.u32();
    if (flags & 1) this.u32();
  }
  // An import's kind and type (the wasm spec's importdesc); only skipped over, copied as is.
  importDesc() {
    const kind = this.byte();
    if (kind === 0) this.u32(); // function: type index
    else if (kind === 1) (this.byte(), this.limits()); // table: reference type, limits
    else if (kind === 2) this.limits(); // memory
    else if (kind === 3) (this.byte(), this.byte()); // global: value type, mutability
    else if (kind === 4) (this.byte(), this.u32()); // tag: attribute, type index
    else fail(`${wasmName}: an import of unknown kind ${kind}`);
  }
}

function leb(n) {
  const out = [];
  do {
    let b = n & 0x7f;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

function nameBytes(s) {
  const bytes = Buffer.from(s, 'utf8');
  return Buffer.concat([leb(bytes.length), bytes]);
}

function one(list, what) {
  if (list.length !== 1) fail(`expected one ${what} in ${dir}, found ${list.length}`);
  return list[0];
}

function sri(bytes) {
  return `sha384-${createHash('sha384').update(bytes).digest('base64')}`;
}

main();
