// What the Trunk post_build hooks (Trunk.toml: minify-js, short-imports, early-wasm, sw-stamp)
// share: failing the build with a message named after the hook, and a replacement that must find
// what it replaces exactly once.

import path from 'node:path';

const hook = path.basename(process.argv[1] ?? 'hook', '.mjs');

/** Prints `message` as this hook's and fails the build. */
export function fail(message) {
  console.error(`${hook}: ${message}`);
  process.exit(1);
}

/** `text` with its one `from` replaced by `to`; fails the build unless `from` occurs exactly once. */
export function replaceOnce(text, from, to, what) {
  const parts = text.split(from);
  if (parts.length !== 2) fail(`${what}: \`${from}\` found ${parts.length - 1} times, expected once`);
  return parts.join(to);
}
