// Prints what searching a 10 MB notebook costs in the browser; asserts nothing about speed.
//   node tests/e2e/search_bench.mjs [--runs N]
// 1. Builds the notebook in Node with Yjs in the app's schema (docs/schema.md): 200 pages of
//    50 kB, each typed in 1 kB pieces into the middle (a text of many Yjs items, as a page that
//    was written is), the line of crates/core/src/notebook/search_tests.rs (`notebook_search_
//    figures`, the native figure) repeated; writes it as the one record of a room's IndexedDB.
// 2. Opens the room and, for each query, clears the search box, then puts the query in it at
//    once (one input event, as a paste) and times, by the page's clock, from the input event to
//    the frame that shows its results (#search-results[data-query] is the query searched).
//    "not there" and "straße nicht" are found nowhere: every page is searched; "line of NOTES"
//    stops at 50 hits.
// 3. Types a query key by key as fast as Playwright can, and counts the searches that ran
//    (`cp:search` measures: every search of this notebook takes over 4 ms) and the time from
//    the last key to its results.
// Results also go to tests/e2e/.artifacts/search_bench.json. Exits 1 only if a figure could not
// be taken.

import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import {
  withServerAndBrowser, newRoomName, roomUrl, waitForReady, openTab, APP_LOAD_TIMEOUT_MS,
  finishBenchmark, appendToYIndexedDb,
} from './harness.mjs';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(opts.runs);
const PAGES = 200;
const PAGE_BYTES = 50_000;
const LINE = 'Die Straße ist nass, the road is wet; 😀 a commonplace line of notes.\n';
const QUERIES = ['not there', 'straße nicht', 'line of NOTES'];
const TYPED = 'commonplace not there';
const LOAD_TIMEOUT_MS = 120_000;

const results = { pages: PAGES };
const problems = [];

function notebook() {
  const doc = new Y.Doc();
  const page = LINE.repeat(Math.ceil(PAGE_BYTES / Buffer.byteLength(LINE)));
  doc.transact(() => {
    doc.getMap('meta').set('version', 1);
    doc.getText('page').insert(0, '# Home\n');
    const pages = doc.getMap('pages');
    for (let i = 0; i < PAGES; i++) {
      const entry = new Y.Map();
      pages.set(`p${i}`, entry);
      entry.set('title', `Page ${i}`);
      entry.set('order', i + 1);
      const body = new Y.Text();
      entry.set('body', body);
      for (let at = 0; at < page.length; at += 1000) body.insert(Math.floor(body.length / 2), page.slice(at, at + 1000));
    }
  });
  return Y.encodeStateAsUpdate(doc);
}

/** Sets the search box to `query` in one input event; ms from it to the frame showing its results. */
function searchOnce(page, query) {
  return page.evaluate((query) => new Promise((resolve) => {
    const box = document.querySelector('#search');
    box.value = query;
    const start = performance.now();
    box.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));
    const check = () => {
      const list = document.querySelector('#search-results');
      // (A build without data-query searched in the input event itself.)
      if (list && (list.getAttribute('data-query') ?? query) === query) resolve(performance.now() - start);
      else requestAnimationFrame(check);
    };
    requestAnimationFrame(check);
  }), query);
}

async function clear(page) {
  await page.evaluate(() => {
    const box = document.querySelector('#search');
    box.value = '';
    box.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'deleteContentBackward' }));
  });
  await page.waitForFunction(() => !document.querySelector('#search-results'), null, { timeout: 10_000 });
  // A search left waiting on an earlier key has run by now, and the box has rested.
  await page.waitForTimeout(300);
}

const searchesSoFar = (page) => page.evaluate(() => performance.getEntriesByName('cp:search').length);

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const lines = [`search_bench: a notebook of ${PAGES} pages of ${PAGE_BYTES / 1000} kB, ${RUNS} runs`];
const update = notebook();
results.updateBytes = update.length;
await withServerAndBrowser(async ({ server, browser }) => {
  const context = await browser.newContext();
  try {
    const room = newRoomName('searchbench');
    const writer = await openTab(context, roomUrl(server, newRoomName('searchbench-writer')), { name: 'writer', ready: true });
    await appendToYIndexedDb(writer, room, [update]);
    await writer.close();
    const page = await openTab(context, roomUrl(server, room), { name: 'reader' });
    await waitForReady(page, { timeout: LOAD_TIMEOUT_MS, name: 'reader' });
    results.queries = {};
    for (const query of QUERIES) {
      const times = [];
      for (let run = 0; run < RUNS; run++) {
        await clear(page);
        times.push(await searchOnce(page, query));
      }
      const hits = await page.$$eval('#search-results .search-hit', (l) => l.length);
      results.queries[query] = { ms: times, median: median(times), hits };
      lines.push(`  "${query}" (${hits} hits): query to results shown ${times.map(Math.round).join(', ')} ms; median ${Math.round(median(times))} ms`);
    }
    const typed = [];
    for (let run = 0; run < RUNS; run++) {
      await clear(page);
      const before = await searchesSoFar(page);
      await page.focus('#search');
      await page.keyboard.type(TYPED.slice(0, -1));
      await page.evaluate(() => { window.searchBenchLastKey = performance.now(); });
      await page.keyboard.type(TYPED.slice(-1));
      const ms = await page.evaluate((query) => new Promise((resolve) => {
        const check = () => {
          const list = document.querySelector('#search-results');
          if (list && (list.getAttribute('data-query') ?? query) === query) resolve(performance.now() - window.searchBenchLastKey);
          else requestAnimationFrame(check);
        };
        check();
      }), TYPED);
      typed.push({ searches: (await searchesSoFar(page)) - before, ms });
    }
    results.typed = typed;
    lines.push(`  typing "${TYPED}" (${TYPED.length} keys) at Playwright's speed: searches run ${typed.map((t) => t.searches).join(', ')}; last key to its results ${typed.map((t) => Math.round(t.ms)).join(', ')} ms`);
  } catch (err) {
    problems.push(`search: ${err.message}`);
  } finally {
    await context.close();
  }
});
finishBenchmark('search_bench', lines, problems, results);
