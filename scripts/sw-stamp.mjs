// Trunk post_build hook (see Trunk.toml): stamps the staged sw.js with this build's version and the
// list of files it precaches, so the service worker caches exactly this build and every build
// gets a new worker (and a new cache). Runs on a fresh machine with plain node (no packages).
//
// The version is a hash of every file's name and content (sw.js itself excluded), so it changes
// whenever anything shipped changes, and only then. Idempotent: run it again on a stamped
// directory (as the offline_shell test does) and it restamps.
//
// Usage: TRUNK_STAGING_DIR=dist/.stage node scripts/sw-stamp.mjs   (trunk sets the variable)

import { createHash } from 'node:crypto';
import { readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fail } from './hook.mjs';

const dir = process.env.TRUNK_STAGING_DIR;
if (!dir) fail('TRUNK_STAGING_DIR is not set (trunk sets it for a post_build hook)');
const swPath = path.join(dir, 'sw.js');

const files = readdirSync(dir, { recursive: true, withFileTypes: true })
  .filter((e) => e.isFile())
  .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'))
  .filter((name) => name !== 'sw.js' && !name.split('/').some((part) => part.startsWith('.')))
  .sort();
if (!files.includes('index.html')) fail(`no index.html in ${dir}`);

const hash = createHash('sha256');
for (const name of files) {
  hash.update(`${name}\0${createHash('sha256').update(readFileSync(path.join(dir, name))).digest('hex')}\n`);
}
const version = hash.digest('hex').slice(0, 16);

let sw;
try {
  sw = readFileSync(swPath, 'utf8');
} catch (err) {
  fail(`cannot read ${swPath} (index.html must copy static/sw.js): ${err.message}`);
}
const line = /^const BUILD = .*$/m;
if (!line.test(sw)) fail(`${swPath} has no "const BUILD = …" line to stamp`);
sw = sw.replace(line, () => `const BUILD = ${JSON.stringify({ version, files })}; // stamped by scripts/sw-stamp.mjs`);
writeFileSync(swPath, sw);
console.log(`sw-stamp: sw.js version ${version}, ${files.length} files to precache`);
