// Trunk post_build hook (see Trunk.toml), after short-imports.mjs and before sw-stamp.mjs: lets
// index.html's head start compile the app's wasm while the page still parses. Trunk's loader is
// a module script, which runs only once the whole document is parsed (~30 ms later on a fresh
// page, issue 14's connect goal); the head start runs first. Here
//   - the head start's placeholder `/__commonplace_wasm__` becomes the wasm's hashed path, and
//   - the loader's `init({ module_or_path: '/<wasm>' })` takes the head start's compilation
//     (`window.commonplaceWasm`, a promise of the module, or of the response if compiling failed)
//     when there is one, and the path otherwise;
//   - Trunk's `<link rel=preload>` of the wasm goes: it came later than the head start's fetch
//     and made a second download of the whole wasm.
// Each must be found exactly once, or the build fails.
//
// Usage: TRUNK_STAGING_DIR=dist/.stage node scripts/early-wasm.mjs   (trunk sets the variable)

import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail, replaceOnce } from './hook.mjs';

const PLACEHOLDER = '/__commonplace_wasm__';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) fail('TRUNK_STAGING_DIR is not set (trunk sets it for a post_build hook)');
const wasms = readdirSync(dir).filter((f) => f.endsWith('_bg.wasm'));
if (wasms.length !== 1) fail(`expected one *_bg.wasm in ${dir}, found ${wasms.length}`);
const wasmPath = `/${wasms[0]}`;
const indexPath = path.join(dir, 'index.html');
let index = readFileSync(indexPath, 'utf8');
index = replaceOnce(index, PLACEHOLDER, wasmPath, "index.html, the head start's placeholder");
index = replaceOnce(index, `module_or_path: '${wasmPath}'`, `module_or_path: window.commonplaceWasm || '${wasmPath}'`,
  "index.html, Trunk's loader call");
const preloads = index.match(/<link\b[^>]*>/g).filter((tag) => /\brel="?preload\b/.test(tag) && tag.includes(wasmPath));
if (preloads.length !== 1) fail(`index.html: ${preloads.length} preload links of ${wasmPath}, not one`);
index = replaceOnce(index, preloads[0], '', 'index.html, the preload of the wasm');
writeFileSync(indexPath, index);
console.log(`early-wasm: the head start compiles ${wasmPath}`);
