// Prints figures per path between two browsers; asserts nothing about speed.
//   node tests/e2e/path_bench.mjs [--runs N] [--keys N]
// Paths, all on this machine: *direct* (host candidates, as on a LAN), *TURN* (a real coturn,
// every connection restricted to relay candidates, credentials from the server's --turn-secret)
// and *server relay* (no candidate at all: frames go through the signaling server after the 5 s
// RELAY_AFTER_MS wait). For each:
// 1. B's page.goto(link) → #status[data-peers="1"] (median of runs; B's people list must show
//    the path, so each figure is for the path it names)
// 2. keystroke in A → visible in B: p50 / p99
// 3. 1 MB late join in a keyed room: B's goto → B's editor holds all of it (SHA-256 checked)
// Loopback has no real latency: the figures are each path's own cost (TURN's extra hop, the
// relay's wait, base64 and encryption, the server's forwarding), not a network's.
// Results also go to tests/e2e/.artifacts/path_bench.json. Exits 1 only if a figure could not
// be taken (scripts/test reports that and goes on).

import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import {
  startServer, launchBrowser, openUser, closeUsers, newRoomName, roomUrl, keyedRoomUrl, newRoomKey, waitForPeers,
  waitForReady, fillEditor, editorDigest, withTimeout, onlyRelayCandidates, waitForPath, finishBenchmark,
} from './harness.mjs';
import { keystrokesAcross, quantile } from './probes.mjs';
import { startTurn } from './turn.mjs';

const { values: opts } = parseArgs({
  options: { runs: { type: 'string', default: '3' }, keys: { type: 'string', default: '100' } },
});
const RUNS = Number(opts.runs);
const KEYS = Number(opts.keys);
const MB = 1024 * 1024;
const STEP_TIMEOUT_MS = 90_000;
const round1 = (x) => Math.round(x * 10) / 10;

const results = {};
const problems = [];

/** What each path needs: server flags, and how each browser context is restricted. */
const PATHS = [
  { name: 'direct', attribute: 'direct', setup: null, turn: false },
  { name: 'TURN', attribute: 'turn', setup: (context) => onlyRelayCandidates(context, { turn: true }), turn: true },
  { name: 'server relay', attribute: 'relay', setup: (context) => onlyRelayCandidates(context), turn: false },
];

async function connectTimes(browser, server, path) {
  const times = [];
  for (let i = 0; i < RUNS; i++) {
    const url = roomUrl(server, newRoomName('pathbench'));
    const a = await openUser(browser, url, { name: 'A', setup: path.setup });
    let context;
    try {
      context = await browser.newContext();
      if (path.setup) await path.setup(context);
      const b = await context.newPage();
      const t0 = performance.now();
      await b.goto(url);
      await waitForPeers(b, 1, { timeout: 60_000 });
      times.push(performance.now() - t0);
      await waitForPath(b, path.attribute, { name: 'B', timeout: 30_000 });
    } finally {
      await closeUsers(a);
      await context?.close();
    }
  }
  return { runs: times.map(round1), median: round1(quantile(times, 0.5)) };
}

async function keystrokes(browser, server, path) {
  const url = roomUrl(server, newRoomName('pathbench'));
  const a = await openUser(browser, url, { name: 'A', setup: path.setup });
  const b = await openUser(browser, url, { name: 'B', setup: path.setup });
  try {
    await Promise.all([waitForPeers(a, 1, { timeout: 60_000 }), waitForPeers(b, 1, { timeout: 60_000 })]);
    await waitForPath(b, path.attribute, { name: 'B', timeout: 30_000 });
    return await keystrokesAcross(a, b, { warmup: 10, keys: KEYS });
  } finally {
    await closeUsers(a, b);
  }
}

async function lateJoin(browser, server, path) {
  const url = keyedRoomUrl(server, newRoomName('pathbench'), newRoomKey());
  const a = await openUser(browser, url, { name: 'A', setup: path.setup });
  let context;
  try {
    await waitForReady(a, { name: 'A' });
    await fillEditor(a, MB, { timeout: STEP_TIMEOUT_MS, name: 'A' });
    const want = await withTimeout(editorDigest(a), STEP_TIMEOUT_MS, '[A] hashing');
    context = await browser.newContext();
    if (path.setup) await path.setup(context);
    const b = await context.newPage();
    const t0 = performance.now();
    await b.goto(url);
    await b.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) >= n, want.length,
      { timeout: STEP_TIMEOUT_MS, polling: 20 });
    const ms = performance.now() - t0;
    const got = await editorDigest(b);
    if (got.sha256 !== want.sha256) throw new Error(`B's notebook differs from A's (${got.length} vs ${want.length} units)`);
    await waitForPath(b, path.attribute, { name: 'B', timeout: 30_000 });
    return { ms: round1(ms) };
  } finally {
    await closeUsers(a);
    await context?.close();
  }
}

async function measure(path) {
  const secret = randomBytes(16).toString('hex');
  const turn = path.turn ? await startTurn({ secret }) : null;
  // Each path's own cost: the late joiner's notebook must come over it, not from a server copy.
  const server = await startServer({ args: ['--no-store', ...(turn ? ['--turn', turn.url, '--turn-secret', secret] : [])] });
  const browser = await launchBrowser();
  const figures = {};
  try {
    for (const [name, fn] of [['connect', connectTimes], ['keystroke', keystrokes], ['lateJoin1MB', lateJoin]]) {
      try {
        figures[name] = await fn(browser, server, path);
      } catch (err) {
        problems.push(`${path.name} ${name}: ${err.message.split('\n')[0]}`);
      }
    }
  } finally {
    await browser.close();
    await server.stop();
    await turn?.stop();
  }
  return figures;
}

for (const path of PATHS) results[path.name] = await measure(path);

const lines = ['', 'Commonplace paths benchmark (one machine: each path\'s own cost, no network latency)', ''];
lines.push(`  ${'path'.padEnd(14)} ${'goto -> 1 peer'.padStart(16)} ${'key -> peer p50'.padStart(16)} ${'p99'.padStart(8)} ${'1 MB late join'.padStart(16)}`);
for (const { name } of PATHS) {
  const f = results[name];
  const cell = (value, unit = ' ms') => (value === undefined ? '—' : `${value}${unit}`);
  lines.push(`  ${name.padEnd(14)} ${cell(f.connect?.median).padStart(16)} ${cell(f.keystroke?.p50).padStart(16)} ${cell(f.keystroke?.p99).padStart(8)} ${cell(f.lateJoin1MB?.ms).padStart(16)}`);
}
lines.push(`  (connect: median of ${RUNS} runs; keystrokes: ${KEYS} per path)`);
finishBenchmark('path_bench', lines, problems, results);
