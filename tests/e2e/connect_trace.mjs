// Where the second person's join goes in the browser (script, compile, layout, network): traces
// one B joining A's keyed room with Chromium's tracing and prints B's renderer main-thread events
// over MIN ms (default 3) and the app's `commonplace:*` marks, ms after navigation began.
// Asserts nothing; the trace is left in .artifacts/connect_trace.json.
//   node tests/e2e/connect_trace.mjs [MIN]
import {
  APP_LOAD_TIMEOUT_MS, withServerAndBrowser, openUser, closeUsers, newRoomName, newRoomKey,
  keyedRoomUrl, waitForReady, typeText, sleep,
  artifactPath, readTrace,
} from './harness.mjs';

const TRACE = artifactPath('connect_trace.json');
const min = Number(process.argv[2] ?? 3);
await withServerAndBrowser(async ({ server, browser }) => {
  const url = keyedRoomUrl(server, newRoomName('ctrace'), newRoomKey());
  const a = await openUser(browser, url, { name: 'A' });
  await waitForReady(a, { name: 'A' });
  await typeText(a, 'hello from A');
  await sleep(500);
  const ctx = await browser.newContext();
  const b = await ctx.newPage();
  await browser.startTracing(undefined, {
    path: TRACE,
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'v8', 'v8.wasm', 'blink', 'blink.user_timing', 'toplevel', 'loading', 'netlog', 'navigation'],
  });
  const t0 = Date.now();
  await b.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
  await b.waitForFunction(() => document.querySelector('#editor')?.value.includes('hello from A'), null, { timeout: 30000, polling: 5 });
  console.log('goto -> first text', Date.now() - t0, 'ms (under tracing)');
  const marks = await b.evaluate(() => performance.getEntriesByType('mark').map((m) => `${m.name} ${Math.round(m.startTime)}`));
  console.log('marks (ms after navigation start):', marks.join(', '));
  await sleep(500);
  await browser.stopTracing();
  await closeUsers(a, b);
}, { serverArgs: ['--no-store'] });
const { events: ev, threads } = readTrace(TRACE);
// B's renderer is the one that marked the start of its key derivation (A's came before the trace).
const begun = ev.find((e) => e.name === 'commonplace:key-derivation-start');
if (!begun) throw new Error('no commonplace:key-derivation-start in the trace');
const bMain = Object.entries(threads).find(([k, n]) => n === 'CrRendererMain' && k.startsWith(`${begun.pid}:`))[0];
const nav = ev.find((e) => e.pid === begun.pid && e.name === 'navigationStart');
const t00 = nav ? nav.ts : begun.ts;
console.log(nav ? 'times: ms after navigationStart' : 'times: ms after the key derivation began');
for (const e of ev.filter((e) => `${e.pid}:${e.tid}` === bMain && ((e.ph === 'X' && e.dur >= min * 1000) || e.name.startsWith('commonplace:'))).sort((x, y) => x.ts - y.ts)) {
  const what = e.args?.data?.functionName || e.args?.data?.url || e.args?.data?.type || '';
  console.log(`@${String(Math.round((e.ts - t00) / 1000)).padStart(5)} ${e.ph === 'X' ? String(Math.round(e.dur / 1000)).padStart(4) + ' ms' : '  mark '} ${e.name} ${String(what).slice(0, 80)}`);
}
