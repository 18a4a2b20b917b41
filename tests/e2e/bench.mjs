// Prints Commonplace's figures; asserts nothing about speed.
//   node tests/e2e/bench.mjs [--keys N] [--runs N]
// 1. gzipped size (zlib level 9) of what dist/ sends: .wasm, .js, .css
// 2. time from a second person's page.goto(room link) until #status[data-peers="1"] (median of runs)
// 3. keystroke latency: key down in A -> text changed in B, p50/p90/p99 over N keystrokes
// Results also go to tests/e2e/.artifacts/bench.json. Exits 1 only if a figure could not be taken.

import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gzipSync, constants as zlib } from 'node:zlib';
import { parseArgs } from 'node:util';
import {
  DIST_DIR, withServerAndBrowser, openUser, closeUsers, newRoomName, roomUrl, waitForPeers,
  finishBenchmark,
} from './harness.mjs';
import { keystrokesAcross, quantile } from './probes.mjs';

const { values: opts } = parseArgs({
  options: { keys: { type: 'string', default: '200' }, runs: { type: 'string', default: '5' } },
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
    return { file: f, raw: bytes.length, gzip: gzipSync(bytes, { level: zlib.Z_BEST_COMPRESSION }).length };
  });
  const total = rows.reduce((s, r) => ({ raw: s.raw + r.raw, gzip: s.gzip + r.gzip }), { raw: 0, gzip: 0 });
  return { files: rows, total };
}

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

await section('sizes', async () => { results.sizes = sizes(); });

await section('browser', () => withServerAndBrowser(async ({ server, browser }) => {
  await section('connect', async () => { results.connect = await connectTimes(browser, server); });
  await section('keystroke', async () => { results.keystroke = await keystrokeLatency(browser, server); });
}));

const lines = ['', 'Commonplace benchmark', ''];
if (results.sizes?.files) {
  lines.push(`  ${'size of dist/'.padEnd(42)} ${'raw'.padStart(10)} ${'gzip -9'.padStart(10)}`);
  for (const r of results.sizes.files) lines.push(`    ${r.file.padEnd(40)} ${kb(r.raw).padStart(10)} ${kb(r.gzip).padStart(10)}`);
  lines.push(`    ${'total'.padEnd(40)} ${kb(results.sizes.total.raw).padStart(10)} ${kb(results.sizes.total.gzip).padStart(10)}`);
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
