// Prints how fast a person who opens a room link is in, side by side with a stock Yjs + y-webrtc
// app in the same run; asserts nothing about speed.
//   node tests/e2e/connect_bench.mjs [--runs N]
//
// The baseline is what a Yjs developer would ship: yjs + y-webrtc + y-indexeddb (the npm
// packages) bundled and minified by esbuild, a <textarea> showing the Y.Text `page`, served by a
// small HTTP server on loopback; `new WebrtcProvider(room, doc, { signaling: [our server], password:
// key })`, so both apps derive the same PBKDF2 key and meet on the same signaling server.
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

import http from 'node:http';
import { parseArgs } from 'node:util';
import {
  withServerAndBrowser, openUser, closeUsers, newRoomName, newRoomKey, keyedRoomUrl, signalUrl,
  waitForPeers, typeText, waitForValue, finishBenchmark, REPO_ROOT, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';
import { quantile } from './probes.mjs';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '5' } } });
const RUNS = Number(opts.runs);
const STEP_TIMEOUT_MS = 30_000;
const TEXT = 'What A wrote before you came.';

const results = {};
const problems = [];

// ---- the baseline app ----------------------------------------------------------------------------

const YJS_APP = `
import * as Y from 'yjs';
import { WebrtcProvider } from 'y-webrtc';
import { IndexeddbPersistence } from 'y-indexeddb';
const params = new URLSearchParams(location.hash.slice(1));
const room = params.get('room');
const doc = new Y.Doc();
const text = doc.getText('page');
const editor = document.getElementById('editor');
new IndexeddbPersistence(room, doc);
const provider = new WebrtcProvider(room, doc, {
  signaling: [params.get('signaling')],
  password: params.get('key') || undefined,
  peerOpts: { config: { iceServers: [] } },
});
text.observe(() => { editor.value = text.toString(); });
editor.addEventListener('input', () => doc.transact(() => { text.delete(0, text.length); text.insert(0, editor.value); }));
window.app = { doc, text, provider };
`;
const YJS_HTML = '<!doctype html><meta charset="utf-8"><title>Yjs + y-webrtc</title><textarea id="editor"></textarea><script src="/app.js"></script>';

async function startYjsApp() {
  const { build } = await import('esbuild');
  const bundle = await build({
    stdin: { contents: YJS_APP, resolveDir: REPO_ROOT, loader: 'js' },
    bundle: true, minify: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
  });
  const js = bundle.outputFiles[0].contents;
  const server = http.createServer((req, res) => {
    const [type, body] = req.url === '/app.js' ? ['text/javascript', js] : ['text/html', YJS_HTML];
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}/`, jsBytes: js.length };
}

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
    link: (env, room, key) => `${env.yjs.url}#${new URLSearchParams({ room, key, signaling: signalUrl(env.server) })}`,
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
    return await newcomer.evaluate(() => window.__arrival);
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
  return Object.fromEntries(Object.entries(runs).map(([which, rs]) => [which, {
    connected: summary(rs.map((r) => r.connected)),
    text: summary(rs.map((r) => r.text)),
  }]));
}

// ---- run, print ------------------------------------------------------------------------------------

const round1 = (x) => Math.round(x * 10) / 10;

async function section(name, fn) {
  try {
    results[name] = await fn();
  } catch (err) {
    problems.push(`${name}: ${err.message.split('\n')[0]}`);
    results[name] = { error: err.message };
  }
}

const yjs = await startYjsApp();
try {
  await withServerAndBrowser(async ({ server, browser }) => {
    const env = { server, browser, yjs };
    await section('second', () => arrivals(env, 1));
    await section('third', () => arrivals(env, 2));
  });
} finally {
  yjs.server.close();
}

const lines = ['', `Commonplace connect benchmark (keyed rooms; median of ${RUNS} runs, apps alternating; the baseline's JS is ${(yjs.jsBytes / 1024).toFixed(1)} kB minified)`, ''];
lines.push(`  ${''.padEnd(44)} ${'Yjs + y-webrtc'.padStart(16)} ${'Commonplace'.padStart(14)}`);
for (const [name, label] of [['second', 'second person'], ['third', 'third person']]) {
  const r = results[name];
  if (!r?.yjs) continue;
  lines.push(`  ${`${label}: link → connected`.padEnd(44)} ${`${r.yjs.connected.median} ms`.padStart(16)} ${`${r.ours.connected.median} ms`.padStart(14)}`);
  lines.push(`  ${`${label}: link → first text seen`.padEnd(44)} ${`${r.yjs.text.median} ms`.padStart(16)} ${`${r.ours.text.median} ms`.padStart(14)}`);
  lines.push(`    runs (text seen): Yjs ${r.yjs.text.runs.join(', ')}; Commonplace ${r.ours.text.runs.join(', ')}`);
}
lines.push('  (from the newcomer\'s navigation start, in its page; A typed before the newcomer came)');
finishBenchmark('connect_bench', lines, problems, results);
