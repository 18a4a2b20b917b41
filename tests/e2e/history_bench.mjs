// Prints how fast the History panel opens with many versions; asserts nothing about speed.
//   node tests/e2e/history_bench.mjs [--versions N] [--pages N] [--runs N]
// One person in a fresh room makes a notebook of N pages (a few kB each), then N versions, each
// after an edit (the Save version button), reloads, and opens the panel RUNS times: from the
// click on #history-button to all versions listed (a 1 ms poll in the page) and to the frame
// after, by the page's clock. The first open after the reload also reads the history from
// IndexedDB (it is read 5 s after the notebook, or when the panel opens: here, at once); it is
// printed apart. The history's size in this browser's database is printed too. Results also go to
// tests/e2e/.artifacts/history_bench.json.

import { parseArgs } from 'node:util';
import { withServerAndBrowser, finishBenchmark, openUser, closeUsers, newRoomName, roomUrl, createPage, typeText, waitForReady, idbUpdates } from './harness.mjs';
import { quantile } from './probes.mjs';

const { values: opts } = parseArgs({
  options: {
    versions: { type: 'string', default: '200' },
    pages: { type: 'string', default: '20' },
    runs: { type: 'string', default: '6' },
  },
});
const VERSIONS = Number(opts.versions);
const PAGES = Number(opts.pages);
const RUNS = Number(opts.runs);
const results = { versions: VERSIONS, pages: PAGES };
const problems = [];
const round1 = (x) => Math.round(x * 10) / 10;

/** Clicks the History button and times, by the page's clock, until `n` versions are listed. */
function timeOpening(n) {
  return new Promise((resolve) => {
    const start = performance.now();
    document.querySelector('#history-button').click();
    const poll = setInterval(() => {
      if (document.querySelectorAll('#versions .version').length >= n) {
        clearInterval(poll);
        const listed = performance.now() - start;
        requestAnimationFrame(() => setTimeout(() => resolve({ listed, painted: performance.now() - start }), 0));
      }
    }, 1);
  });
}

await withServerAndBrowser(async ({ server, browser }) => {
  const room = newRoomName('history-bench');
  const page = await openUser(browser, roomUrl(server, room), { name: 'A', ready: true });
  try {
    const paragraph = 'A line of notes that someone kept, with a [[link]] or two. '.repeat(40);
    for (let i = 1; i < PAGES; i++) {
      await createPage(page, `Page ${i}`, { name: 'A' });
      await typeText(page, paragraph);
    }
    await page.click('#history-button');
    for (let i = 0; i < VERSIONS; i++) {
      await typeText(page, ` edit ${i}`);
      await page.click('#save-version');
    }
    await page.waitForFunction((n) => document.querySelectorAll('#versions .version').length >= n, VERSIONS, { timeout: 60_000 });
    await page.click('#history-button');
    await page.reload();
    await waitForReady(page, { name: 'A' });
    const stored = await idbUpdates(page, `${room} (commonplace history)`);
    results.stored = { records: stored.count, bytes: stored.bytes };
    const runs = { listed: [], painted: [] };
    for (let i = 0; i < RUNS; i++) {
      const { listed, painted } = await page.evaluate(timeOpening, VERSIONS);
      runs.listed.push(listed);
      runs.painted.push(painted);
      await page.click('#history-button');
      await page.waitForTimeout(200);
    }
    const summary = (xs) => ({ runs: xs.map(round1), median: round1(quantile(xs, 0.5)) });
    results.first = { listed: round1(runs.listed[0]), painted: round1(runs.painted[0]) };
    results.listed = summary(runs.listed.slice(1));
    results.painted = summary(runs.painted.slice(1));
  } catch (err) {
    problems.push(err.message.split('\n')[0]);
  } finally {
    await closeUsers(page);
  }
});

const lines = [`Commonplace History panel benchmark (${VERSIONS} versions of a notebook of ${PAGES} pages; median of ${RUNS - 1} opens after the first)`, ''];
if (results.listed) {
  lines.push(`  first open after a reload (reads IndexedDB) → all listed   ${results.first.listed} ms   (frame after: ${results.first.painted} ms)`);
  lines.push(`  click History → all ${VERSIONS} versions listed   ${results.listed.median} ms   (runs: ${results.listed.runs.join(', ')})`);
  lines.push(`  click History → the frame after           ${results.painted.median} ms`);
  lines.push(`  the history in IndexedDB: ${results.stored.records} records, ${results.stored.bytes} bytes`);
  lines.push('  (by the page\'s clock; no baseline: Yjs apps have no version history)');
}
finishBenchmark('history_bench', lines, problems, results);
