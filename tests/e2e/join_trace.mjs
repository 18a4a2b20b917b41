// Where a late join's time goes in the browser itself (layout, paint, script): traces one late
// join of a SIZE-unit notebook (default 1 MiB) with Chromium's tracing and prints every renderer
// main-thread event over 20 ms, by process (one is the sender A, one the joiner B), ms after the
// first. Asserts nothing; the trace is left in .artifacts/join_trace.json.
//   node tests/e2e/join_trace.mjs [SIZE]
import {
  APP_LOAD_TIMEOUT_MS, withServerAndBrowser, openUser, closeUsers, newRoomName, newRoomKey,
  keyedRoomUrl, waitForReady, fillEditor, sleep,
  artifactPath, readTrace,
} from './harness.mjs';

const TRACE = artifactPath('join_trace.json');
const size = Number(process.argv[2] ?? 1048576);
await withServerAndBrowser(async ({ server, browser }) => {
  const url = keyedRoomUrl(server, newRoomName('trace'), newRoomKey());
  const a = await openUser(browser, url, { name: 'A' });
  await waitForReady(a, { name: 'A' });
  await fillEditor(a, size, { steps: Math.max(1, Math.round(size / 2621440)), timeout: 60000, name: 'A' });
  await sleep(1000);
  const ctx = await browser.newContext();
  const b = await ctx.newPage();
  await browser.startTracing(undefined, { path: TRACE, categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'blink', 'toplevel'] });
  const t0 = Date.now();
  await b.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
  await b.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, size, { timeout: 120000, polling: 20 });
  console.log('join ms', Date.now() - t0);
  await sleep(1000);
  await browser.stopTracing();
  await closeUsers(a, b);
}, { serverArgs: ['--no-store'] });
const { events: ev, threads } = readTrace(TRACE);
const main = ev.filter((e) => threads[`${e.pid}:${e.tid}`] === 'CrRendererMain' && e.ph === 'X' && e.dur > 20000);
const t00 = Math.min(...main.map((e) => e.ts));
for (const e of main.sort((x, y) => x.ts - y.ts)) {
  console.log(`${e.pid} @${Math.round((e.ts - t00) / 1000)} ${e.name} ${Math.round(e.dur / 1000)} ms ${e.args?.data?.functionName ?? e.args?.data?.type ?? ''}`);
}
