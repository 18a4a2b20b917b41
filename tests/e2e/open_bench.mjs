// Prints what opening a notebook of 500 pages costs in the browser; asserts nothing about speed.
//   node tests/e2e/open_bench.mjs [--pages N] [--runs N]
// 1. Builds the notebook in Node with Yjs in the app's schema (docs/schema.md: root Y.Map
//    "pages" of Y.Map { title, order, body: Y.Text }, the home page's body the root Y.Text
//    "page"), each page about 2 kB of markdown with a few [[wiki links]], as one update: a
//    compacted store.
// 2. Writes it as the one record of a room's IndexedDB (y-indexeddb's layout), from a page of
//    the app's origin.
// 3. Opens the room, each run in a fresh page: from navigation to #editor[data-ready="true"]
//    (the home page shown and editable), and to the page list holding every page, as Node sees
//    them (through Playwright's polling: on a busy machine that adds up to some 100 ms, more
//    while the page keeps the main thread busy after it showed); and by the page's own clock,
//    from the start of navigation: when data-ready was set, the frame after it (the first page
//    on screen), and the largest contentful paint (the home page's text). The `cp:*` steps
//    (src/perf.rs) each open took are printed too.
// Results also go to tests/e2e/.artifacts/open_bench.json. Exits 1 only if a figure could not be
// taken.

import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import {
  withServerAndBrowser, newRoomName, roomUrl, watchPage, waitForReady, openTab, APP_LOAD_TIMEOUT_MS,
  finishBenchmark, appendToYIndexedDb,
} from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    pages: { type: 'string', default: '500' },
    runs: { type: 'string', default: '3' },
  },
});
const PAGES = Number(opts.pages);
const RUNS = Number(opts.runs);
const LOAD_TIMEOUT_MS = 60_000;

const results = { pages: PAGES };
const problems = [];

/** The notebook as one Yjs update, and the home page's text. */
function notebook() {
  const doc = new Y.Doc();
  const home = `# Home\n\nStart at [[Page 1]] or [[Page 250]].\n\n${'Notes. '.repeat(200)}`;
  doc.transact(() => {
    doc.getMap('meta').set('version', 1);
    doc.getText('page').insert(0, home);
    const pages = doc.getMap('pages');
    for (let i = 0; i < PAGES; i++) {
      const title = `Page ${i}`;
      let body = `# ${title}\n\n`;
      for (let p = 0; p < 6; p++) {
        body += `Paragraph ${p} of ${title}: a *commonplace* note with a list,\n\n- see [[Page ${(i * 7 + p * 13) % PAGES}]]\n- and \`code\`, **bold**\n\n`;
      }
      if (i % 10 === 0) body += 'Back to [[Home]].\n';
      body += 'More text of the page. '.repeat(40);
      const entry = new Y.Map();
      pages.set(`page${i}`, entry);
      entry.set('title', title);
      entry.set('order', i + 1);
      entry.set('body', new Y.Text(body));
    }
  });
  return { update: Y.encodeStateAsUpdate(doc), home };
}

async function openAndTime(context, url, home, run) {
  const page = watchPage(await context.newPage(), { name: `open ${run}` });
  await page.addInitScript(() => {
    const seen = { paints: [] };
    window.openBench = seen;
    new MutationObserver(() => {
      if (seen.ready === undefined && document.querySelector('#editor[data-ready="true"]')) {
        seen.ready = performance.now();
        requestAnimationFrame(() => { seen.frame = performance.now(); });
      }
    }).observe(document, { subtree: true, attributes: true, attributeFilter: ['data-ready'] });
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) seen.paints.push(e.renderTime || e.startTime);
    }).observe({ type: 'largest-contentful-paint', buffered: true });
  });
  try {
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
    await waitForReady(page, { timeout: LOAD_TIMEOUT_MS, name: `open ${run}` });
    const readyMs = performance.now() - t0;
    const shown = await page.evaluate((want) => document.querySelector('#editor').value === want, home);
    if (!shown) throw new Error('the editor was ready without the home page');
    await page.waitForFunction((n) => document.querySelectorAll('#pages li').length === n, PAGES + 1, { timeout: LOAD_TIMEOUT_MS, polling: 5 });
    const listMs = performance.now() - t0;
    await page.waitForFunction(() => window.openBench.frame !== undefined, null, { timeout: LOAD_TIMEOUT_MS });
    const inPage = await page.evaluate(() => ({
      ready: window.openBench.ready,
      frame: window.openBench.frame,
      // The last candidate before the page list grew past the first screen: the home page.
      paint: window.openBench.paints.filter((t) => t <= window.openBench.frame + 100).pop() ?? null,
      steps: performance.getEntriesByType('measure').filter((m) => m.name.startsWith('cp:'))
        .map((m) => `${m.name.slice(3)} ${Math.round(m.duration)}`),
    }));
    return { readyMs, listMs, inPage };
  } finally {
    await page.close();
  }
}

const lines = [`open_bench: a notebook of ${PAGES} pages from IndexedDB, ${RUNS} opens`];
const { update, home } = notebook();
results.updateBytes = update.length;
await withServerAndBrowser(async ({ server, browser }) => {
  const context = await browser.newContext();
  try {
    const room = newRoomName('openbench');
    const writer = await openTab(context, roomUrl(server, newRoomName('openbench-writer')), { name: 'writer', ready: true });
    await writer.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: APP_LOAD_TIMEOUT_MS });
    await appendToYIndexedDb(writer, room, [update]);
    results.runs = [];
    for (let run = 1; run <= RUNS; run++) results.runs.push(await openAndTime(context, roomUrl(server, room), home, run));
  } catch (err) {
    problems.push(`open: ${err.message}`);
  } finally {
    await context.close();
  }
});
for (const [i, r] of (results.runs ?? []).entries()) {
  lines.push(`  open ${i + 1} (${(update.length / 1024).toFixed(0)} kB stored): first page shown (data-ready) ${Math.round(r.readyMs)} ms, page list complete ${Math.round(r.listMs)} ms`);
  const p = r.inPage;
  lines.push(`    in the page: data-ready ${Math.round(p.ready)} ms, its frame ${Math.round(p.frame)} ms, largest paint ${p.paint === null ? '-' : Math.round(p.paint)} ms; steps (ms): ${p.steps.join(', ') || '-'}`);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
if (results.runs?.length) {
  const runs = results.runs;
  results.median = {
    readyMs: median(runs.map((r) => r.readyMs)),
    listMs: median(runs.map((r) => r.listMs)),
    frameMs: median(runs.map((r) => r.inPage.frame)),
  };
  lines.push(`  median: data-ready ${Math.round(results.median.readyMs)} ms (Node), its frame ${Math.round(results.median.frameMs)} ms (in the page), page list complete ${Math.round(results.median.listMs)} ms`);
}
finishBenchmark('open_bench', lines, problems, results);
