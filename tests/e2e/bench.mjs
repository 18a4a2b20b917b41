// Prints Commonplace's figures; asserts nothing about speed.
//   node tests/e2e/bench.mjs [--keys N] [--runs N] [--sizes-only]
// 1. size of what dist/ sends (.wasm, .js, .css): raw, gzip (zlib level 9) and brotli (quality 9,
//    window 22: what the server's precompressed copies are, crates/server/src/precompressed.rs);
//    beside each, the figure of the previous run (its bench.json), as "before -> now"
// 2. time from a second person's page.goto(room link) until #status[data-peers="1"] (median of runs)
// 3. keystroke latency: key down in A -> text changed in B, p50/p90/p99 over N keystrokes
// Results also go to tests/e2e/.artifacts/bench.json. Exits 1 only if a figure could not be taken.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { brotliCompressSync, gzipSync, constants as zlib } from 'node:zlib';
import { parseArgs } from 'node:util';
import {
  REPO_ROOT, DIST_DIR, withServerAndBrowser, openUser, closeUsers, newRoomName, roomUrl, waitForPeers,
  finishBenchmark,
} from './harness.mjs';
import { keystrokesAcross, quantile } from './probes.mjs';

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '200' },
    runs: { type: 'string', default: '5' },
    'sizes-only': { type: 'boolean', default: false },
  },
});
const KEYS = Number(opts.keys);
const RUNS = Number(opts.runs);
const WARMUP_KEYS = 10;

const results = {};
const problems = [];

function section(name, fn) {
  return fn().catch((err) => {
    problems.push(`${name}: ${err.message}`);
    results[name] = { error: err.message };
  });
}

// ---- 1. sizes --------------------------------------------------------------------------------

function sizes() {
  const files = readdirSync(DIST_DIR).filter((f) => /\.(wasm|js|css)$/.test(f)).sort();
  if (!files.some((f) => f.endsWith('.wasm'))) throw new Error(`no .wasm in ${DIST_DIR}: run trunk build --release`);
  const rows = files.map((f) => {
    const bytes = readFileSync(path.join(DIST_DIR, f));
    return {
      file: f,
      raw: bytes.length,
      gzip: gzipSync(bytes, { level: zlib.Z_BEST_COMPRESSION }).length,
      brotli: brotliCompressSync(bytes, {
        params: {
          [zlib.BROTLI_PARAM_QUALITY]: 9,
          [zlib.BROTLI_PARAM_LGWIN]: 22,
          [zlib.BROTLI_PARAM_SIZE_HINT]: bytes.length,
        },
      }).length,
    };
  });
  const total = rows.reduce((s, r) => ({ raw: s.raw + r.raw, gzip: s.gzip + r.gzip, brotli: s.brotli + r.brotli }), { raw: 0, gzip: 0, brotli: 0 });
  return { files: rows, total };
}

// The previous run's sizes (its bench.json), by file name without Trunk's content hash
// (`commonplace-0123456789abcdef.js` is `commonplace.js`): the hash changes with every build.
function previousSizes() {
  const saved = path.join(REPO_ROOT, 'tests', 'e2e', '.artifacts', 'bench.json');
  if (!existsSync(saved)) return null;
  try {
    const { sizes } = JSON.parse(readFileSync(saved, 'utf8'));
    if (!sizes?.files) return null;
    return { total: sizes.total, byName: new Map(sizes.files.map((r) => [unhashed(r.file), r])) };
  } catch {
    return null;
  }
}
const unhashed = (file) => file.replace(/-[0-9a-f]{16}(?=[._])/, '');

// ---- 2. time to connect ----------------------------------------------------------------------

async function connectTimes(browser, server) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const url = roomUrl(server, newRoomName('bench'));
    const a = await openUser(browser, url, { name: 'A' });
    let b;
    try {
      // B's clock starts at page.goto, in a context that already exists (as for a person who
      // has the browser open and clicks the link).
      const context = await browser.newContext();
      b = await context.newPage();
      const t0 = performance.now();
      await b.goto(url);
      await waitForPeers(b, 1, { timeout: 30_000 });
      times.push(performance.now() - t0);
    } finally {
      await closeUsers(a, b);
    }
  }
  return { runs: times.map(round1), median: round1(quantile(times, 0.5)), min: round1(Math.min(...times)), max: round1(Math.max(...times)) };
}

// ---- 3. keystroke latency --------------------------------------------------------------------

async function keystrokeLatency(browser, server) {
  const url = roomUrl(server, newRoomName('bench'));
  const a = await openUser(browser, url, { name: 'A' });
  const b = await openUser(browser, url, { name: 'B' });
  try {
    await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
    return await keystrokesAcross(a, b, { warmup: WARMUP_KEYS, keys: KEYS });
  } finally {
    await closeUsers(a, b);
  }
}

// ---- helpers, run, print ---------------------------------------------------------------------

const round1 = (x) => Math.round(x * 10) / 10;
const kb = (n) => `${(n / 1024).toFixed(1)} kB`;

const previous = previousSizes();
await section('sizes', async () => { results.sizes = sizes(); });

if (!opts['sizes-only']) {
  await section('browser', () => withServerAndBrowser(async ({ server, browser }) => {
    await section('connect', async () => { results.connect = await connectTimes(browser, server); });
    await section('keystroke', async () => { results.keystroke = await keystrokeLatency(browser, server); });
  }));
}

const lines = ['', 'Commonplace benchmark', ''];
if (results.sizes?.files) {
  // "before -> now" where the previous run had the file and a different figure; "now" alone otherwise.
  const cell = (now, before) => (before === undefined || kb(before) === kb(now) ? kb(now) : `${kb(before)} -> ${kb(now)}`).padStart(22);
  const row = (label, r, p) => `    ${label.padEnd(40)} ${cell(r.raw, p?.raw)} ${cell(r.gzip, p?.gzip)} ${cell(r.brotli, p?.brotli)}`;
  lines.push(`  ${'size of dist/'.padEnd(42)} ${'raw'.padStart(22)} ${'gzip -9'.padStart(22)} ${'brotli 9 (as served)'.padStart(22)}`);
  for (const r of results.sizes.files) lines.push(row(r.file, r, previous?.byName.get(unhashed(r.file))));
  lines.push(row('total', results.sizes.total, previous?.total));
  if (previous) lines.push('    (before -> now: against the previous run, tests/e2e/.artifacts/bench.json)');
  lines.push('');
}
if (results.connect?.median !== undefined) {
  const c = results.connect;
  lines.push(`  second person, goto -> 1 peer:  median ${c.median} ms   (min ${c.min}, max ${c.max}; ${c.runs.length} runs: ${c.runs.join(', ')})`);
}
if (results.keystroke?.p50 !== undefined) {
  const k = results.keystroke;
  lines.push(`  keystroke in A -> seen in B:    p50 ${k.p50} ms   p90 ${k.p90} ms   p99 ${k.p99} ms   max ${k.max} ms   (${k.keystrokes} keys${k.seenByPolling ? `, ${k.seenByPolling} seen only by a 4 ms poll` : ''})`);
  if (k.framesPerKey) lines.push(`  frames A sends per keystroke:   ${Object.entries(k.framesPerKey).map(([kind, n]) => `${kind} ${n}`).join(', ')}`);
}
finishBenchmark('bench', lines, problems, results);
