// Prints how fast a person who opens a room link is in, side by side with a stock Yjs + y-webrtc
// app in the same run; asserts nothing about speed.
//   node tests/e2e/connect_bench.mjs [--runs N]
//
// The baseline is what a Yjs developer would ship (yjs_app.mjs: yjs + y-webrtc + y-indexeddb,
// bundled and minified), served by a small HTTP server on loopback; `new WebrtcProvider(room, doc,
// { signaling: [our server], password: key })`, so both apps derive the same PBKDF2 key and meet
// on the same signaling server.
// Both rooms are keyed (every link Commonplace makes is).
//
// Figures (median of runs, Yjs and Commonplace runs alternating):
// 1. second person: A is in the room and has typed; B opens the link → B connected, and B's
//    editor shows A's text
// 2. third person: A and B are in and connected; C opens the link → the same for C
// Times are B's (or C's) own, from the navigation's start (performance.now() in the page, read
// by a 2 ms poll installed before the page's scripts run; the same poll in both apps).
// Results also go to tests/e2e/.artifacts/connect_bench.json. Exits 1 only if a figure could not
// be taken.

import { parseArgs } from 'node:util';
import {
  withServerAndBrowser, openUser, closeUsers, newRoomName, newRoomKey, keyedRoomUrl, signalUrl,
  waitForPeers, typeText, waitForValue, finishBenchmark, benchSections, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';
import { serveYjsApp, yjsLink } from './yjs_app.mjs';
import { quantile } from './probes.mjs';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(opts.runs);
const STEP_TIMEOUT_MS = 30_000;
const TEXT = 'What A wrote before you came.';

const results = {};
const problems = [];

// ---- the two apps, as a bench sees them ------------------------------------------------------------

/** Records, in the page, when it first was connected to a peer and first showed `want`. */
function watchArrival(want) {
  const seen = {};
  window.__arrival = seen;
  const connected = () => {
    const peers = document.querySelector('#status')?.getAttribute('data-peers');
    if (peers !== null && peers !== undefined) return Number(peers) >= 1;
    const conns = window.app?.provider?.room?.webrtcConns;
    return !!conns && [...conns.values()].some((c) => c.connected);
  };
  const poll = setInterval(() => {
    const now = performance.now();
    if (seen.connected === undefined && connected()) seen.connected = now;
    if (seen.text === undefined && document.getElementById('editor')?.value.includes(want)) seen.text = now;
    if (seen.connected !== undefined && seen.text !== undefined) clearInterval(poll);
  }, 2);
}

const APPS = {
  yjs: {
    label: 'Yjs + y-webrtc',
    link: (env, room, key) => yjsLink(env.yjs.url, { room, key, signaling: signalUrl(env.server) }),
    async open(browser, url, name) {
      const context = await browser.newContext();
      const page = await context.newPage();
      await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
      return page;
    },
    async type(page, text) {
      await page.evaluate((t) => window.app.text.insert(window.app.text.length, t), text);
    },
    async connected(page, n) {
      await page.waitForFunction((k) => [...window.app.provider.room?.webrtcConns.values() ?? []].filter((c) => c.connected).length >= k,
        n, { timeout: STEP_TIMEOUT_MS, polling: 20 });
    },
  },
  ours: {
    label: 'Commonplace',
    link: (env, room, key) => keyedRoomUrl(env.server, room, key),
    open: (browser, url, name) => openUser(browser, url, { name }),
    async type(page, text) {
      await typeText(page, text);
      await waitForValue(page, text, { name: 'A' });
    },
    connected: (page, n) => waitForPeers(page, n, { timeout: STEP_TIMEOUT_MS }),
  },
};

/** `present` people in a fresh keyed room (the first has typed TEXT); one more opens the link. */
async function arrival(env, app, present) {
  const room = newRoomName('connectbench');
  const url = app.link(env, room, newRoomKey());
  const pages = [];
  try {
    for (let i = 0; i < present; i++) {
      pages.push(await app.open(env.browser, url, `P${i}`));
      if (i === 0) await app.type(pages[0], TEXT);
    }
    await Promise.all(pages.map((p) => app.connected(p, present - 1)));
    const context = await env.browser.newContext();
    await context.addInitScript(watchArrival, TEXT);
    const newcomer = await context.newPage();
    pages.push(newcomer);
    await newcomer.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
    await newcomer.waitForFunction(() => window.__arrival?.connected !== undefined && window.__arrival?.text !== undefined,
      null, { timeout: STEP_TIMEOUT_MS, polling: 20 });
    // Where Commonplace's time went (src/marks.rs); the baseline sets none.
    return await newcomer.evaluate(() => ({
      ...window.__arrival,
      marks: Object.fromEntries(performance.getEntriesByType('mark')
        .filter((m) => m.name.startsWith('commonplace:')).map((m) => [m.name.slice('commonplace:'.length), m.startTime])),
    }));
  } finally {
    await closeUsers(...pages);
  }
}

async function arrivals(env, present) {
  const runs = { yjs: [], ours: [] };
  for (let i = 0; i < RUNS; i++) {
    for (const which of ['yjs', 'ours']) runs[which].push(await arrival(env, APPS[which], present));
  }
  const summary = (xs) => ({ runs: xs.map(round1), median: round1(quantile(xs, 0.5)), min: round1(Math.min(...xs)), max: round1(Math.max(...xs)) });
  const marks = (rs) => Object.fromEntries([...new Set(rs.flatMap((r) => Object.keys(r.marks)))]
    .map((name) => [name, summary(rs.map((r) => r.marks[name]).filter((t) => t !== undefined))]));
  return Object.fromEntries(Object.entries(runs).map(([which, rs]) => [which, {
    connected: summary(rs.map((r) => r.connected)),
    text: summary(rs.map((r) => r.text)),
    marks: marks(rs),
  }]));
}

// ---- run, print ------------------------------------------------------------------------------------

const round1 = (x) => Math.round(x * 10) / 10;

const section = benchSections(results, problems);

const yjs = await serveYjsApp();
try {
  await withServerAndBrowser(async ({ server, browser }) => {
    const env = { server, browser, yjs };
    await section('second', () => arrivals(env, 1));
    await section('third', () => arrivals(env, 2));
  });
} finally {
  yjs.close();
}

const lines = ['', `Commonplace connect benchmark (keyed rooms; median of ${RUNS} runs, apps alternating; the baseline's JS is ${(yjs.jsBytes / 1024).toFixed(1)} kB minified)`, ''];
lines.push(`  ${''.padEnd(44)} ${'Yjs + y-webrtc'.padStart(16)} ${'Commonplace'.padStart(14)}`);
for (const [name, label] of [['second', 'second person'], ['third', 'third person']]) {
  const r = results[name];
  if (!r?.yjs) continue;
  lines.push(`  ${`${label}: link → connected`.padEnd(44)} ${`${r.yjs.connected.median} ms`.padStart(16)} ${`${r.ours.connected.median} ms`.padStart(14)}`);
  lines.push(`  ${`${label}: link → first text seen`.padEnd(44)} ${`${r.yjs.text.median} ms`.padStart(16)} ${`${r.ours.text.median} ms`.padStart(14)}`);
  lines.push(`    runs (text seen): Yjs ${r.yjs.text.runs.join(', ')}; Commonplace ${r.ours.text.runs.join(', ')}`);
  const marks = Object.entries(r.ours.marks).sort(([, x], [, y]) => x.median - y.median);
  if (marks.length) lines.push(`    Commonplace's milestones (medians): ${marks.map(([name, m]) => `${name} ${m.median}`).join(', ')} ms`);
}
lines.push('  (from the newcomer\'s navigation start, in its page; A typed before the newcomer came)');
finishBenchmark('connect_bench', lines, problems, results);
