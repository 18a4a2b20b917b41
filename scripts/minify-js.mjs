// Trunk post_build hook (see Trunk.toml): minifies the app's JS loader with esbuild. Trunk's own
// minifier cannot parse wasm-bindgen's `export { .. as default }`, warns "Failed to minify JS" and
// copies the loader as is (70 kB; half of it comments and whitespace).
//
// Works on the staged dist/ before scripts/sw-stamp.mjs runs, so the service worker's version
// hash covers the files as shipped. Each file keeps its name: the hash in it was taken by Trunk
// from the unminified text, which the minified text is a fixed function of, so the name still
// changes exactly when the content does. index.html's `integrity="sha384-…"` for the file is
// replaced by the minified file's, or the browser would refuse to run it.
// sw.js is minified too, all but its `const BUILD = …` line, kept whole and first on a line of its
// own: sw-stamp.mjs rewrites that line by pattern (and so does the offline_shell test).
//
// Usage: TRUNK_STAGING_DIR=dist/.stage node scripts/minify-js.mjs   (trunk sets the variables)

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { transformSync } from 'esbuild';
import { fail } from './hook.mjs';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) fail('TRUNK_STAGING_DIR is not set (trunk sets it for a post_build hook)');
// As Trunk.toml's `minify = "on_release"`: a debug build keeps a loader one can read.
if (process.env.TRUNK_PROFILE === 'debug') process.exit(0);
const indexPath = path.join(dir, 'index.html');
let index = readFileSync(indexPath, 'utf8');

const sri = (bytes) => `sha384-${createHash('sha384').update(bytes).digest('base64')}`;

for (const name of readdirSync(dir).filter((f) => f.endsWith('.js') && f !== 'sw.js')) {
  const file = path.join(dir, name);
  const before = readFileSync(file);
  let code;
  try {
    // The loader is an ES module (Trunk imports it from index.html): esm in, esm out. No target:
    // esbuild's default (esnext) only minifies, it rewrites no syntax.
    ({ code } = transformSync(before.toString('utf8'), { minify: true, format: 'esm', legalComments: 'none' }));
  } catch (err) {
    fail(`${name}: ${err.message}`);
  }
  const after = Buffer.from(code, 'utf8');
  const [oldSri, newSri] = [sri(before), sri(after)];
  if (index.includes(oldSri)) index = index.split(oldSri).join(newSri);
  else if (index.includes(name)) fail(`index.html names ${name} without its integrity hash ${oldSri}`);
  writeFileSync(file, after);
  console.log(`minify-js: ${name} ${before.length} -> ${after.length} bytes`);
}
writeFileSync(indexPath, index);

const swPath = path.join(dir, 'sw.js');
const sw = readFileSync(swPath, 'utf8');
const buildLine = /^const BUILD = .*$/m;
const stamp = sw.match(buildLine);
if (!stamp) fail('sw.js has no "const BUILD = …" line (sw-stamp.mjs needs it)');
let swCode;
try {
  // A classic script, not a module: its top-level names are globals esbuild leaves as they are,
  // BUILD among them.
  ({ code: swCode } = transformSync(sw.replace(buildLine, ''), { minify: true, legalComments: 'none' }));
} catch (err) {
  fail(`sw.js: ${err.message}`);
}
writeFileSync(swPath, `${stamp[0]}\n${swCode}`);
console.log(`minify-js: sw.js ${sw.length} -> ${stamp[0].length + 1 + swCode.length} bytes`);
