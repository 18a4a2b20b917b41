// Prints how fast the start screen (`/` without a room) shows a browser's notebooks; asserts
// nothing about speed.
//   node tests/e2e/start_bench.mjs [--notebooks N] [--runs N]
// The list is seeded into localStorage as the app keeps it (src/notebooks.rs,
// core app::notebooks): N notebooks with names, pages, sizes and times. Each run opens `/` in a
// fresh page of the same context and records, by the page's own clock from the start of
// navigation, when #notebooks first holds all N items (a 1 ms poll installed before the page's
// scripts run), and the frame after. Results also go to tests/e2e/.artifacts/start_bench.json.

import { parseArgs } from 'node:util';
import { withServerAndBrowser, finishBenchmark, APP_LOAD_TIMEOUT_MS } from './harness.mjs';
import { quantile } from './probes.mjs';

const { values: opts } = parseArgs({
  options: { notebooks: { type: 'string', default: '50' }, runs: { type: 'string', default: '5' } },
});
const NOTEBOOKS = Number(opts.notebooks);
const RUNS = Number(opts.runs);
const results = { notebooks: NOTEBOOKS };
const problems = [];

function seed(n) {
  const now = Date.now();
  return Array.from({ length: n }, (_, i) => ({
    room: `bench-room-${i}`,
    secret: `secret-${i}`,
    title: i % 5 === 0 ? null : `Notebook number ${i}`,
    pages: 1 + (i * 7) % 40,
    bytes: 1_000 + i * 37_000,
    editedAt: i % 3 === 0 ? null : now - i * 3_600_000,
    openedAt: now - i * 600_000,
    serverCopy: i % 2 === 0,
  }));
}

function watchList(n) {
  const poll = setInterval(() => {
    if (document.querySelectorAll('#notebooks .notebook').length >= n) {
      clearInterval(poll);
      window.__listed = performance.now();
      requestAnimationFrame(() => setTimeout(() => { window.__painted = performance.now(); }, 0));
    }
  }, 1);
}

const round1 = (x) => Math.round(x * 10) / 10;

await withServerAndBrowser(async ({ server, browser }) => {
  const context = await browser.newContext();
  await context.addInitScript(watchList, NOTEBOOKS);
  const first = await context.newPage();
  await first.goto(server.url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await first.evaluate((list) => localStorage.setItem('commonplace.notebooks', JSON.stringify(list)), seed(NOTEBOOKS));
  await first.close();
  const runs = { listed: [], painted: [] };
  for (let i = 0; i < RUNS; i++) {
    const page = await context.newPage();
    try {
      await page.goto(server.url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
      await page.waitForFunction(() => window.__painted !== undefined, null, { timeout: 30_000, polling: 20 });
      const { listed, painted } = await page.evaluate(() => ({ listed: window.__listed, painted: window.__painted }));
      runs.listed.push(listed);
      runs.painted.push(painted);
    } catch (err) {
      problems.push(`run ${i}: ${err.message.split('\n')[0]}`);
    } finally {
      await page.close();
    }
  }
  await context.close();
  const summary = (xs) => ({ runs: xs.map(round1), median: round1(quantile(xs, 0.5)) });
  if (runs.listed.length) {
    results.listed = summary(runs.listed);
    results.painted = summary(runs.painted);
  }
});

const lines = [`Commonplace start screen benchmark (${NOTEBOOKS} notebooks in this browser; median of ${RUNS} runs)`, ''];
if (results.listed) {
  lines.push(`  open / → all ${NOTEBOOKS} notebooks listed      ${results.listed.median} ms   (runs: ${results.listed.runs.join(', ')})`);
  lines.push(`  open / → the frame after                ${results.painted.median} ms`);
  lines.push('  (from the navigation\'s start, by the page\'s clock; no baseline: Yjs apps have no such screen)');
}
finishBenchmark('start_bench', lines, problems, results);
