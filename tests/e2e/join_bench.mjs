// Prints figures about joining a room; asserts nothing about speed.
//   node tests/e2e/join_bench.mjs [--runs N] [--big-runs N] [--join-only]
// 1. late join: A holds a 1 MB / 10 MB notebook (UTF-16 units) in a keyed room (as every link the
//    app makes is keyed); time from B's page.goto(link) until B's editor holds all of it (then
//    checked equal by SHA-256); median of runs. Also the longest main-thread task (Long Tasks
//    API) of the sender A from B's goto until B has it all, and of the receiver B until 1.5 s
//    after (work it put off counts too), and the app's own `cp:…` User Timing measures
// 2. key derivation: PBKDF2-SHA256, 100 000 iterations → AES-GCM-256 with crypto.subtle in a page
//    of the app's origin (the reference cost the app pays per keyed room), and the app's own
//    figure if it exposes one (a performance mark or measure named like key/derive/pbkdf)
// 3. app level: page.goto(link) → #status[data-signaling="online"], with and without a key, and
//    the longest main-thread task meanwhile (a key derived synchronously shows up there)
// Results also go to tests/e2e/.artifacts/join_bench.json. Exits 1 only if a figure could not be
// taken (scripts/test reports that and goes on).

import { parseArgs } from 'node:util';
import {
  APP_LOAD_TIMEOUT_MS, withServerAndBrowser, openUser, closeUsers, newRoomName, newRoomKey,
  keyedRoomUrl, roomUrl, waitForReady, waitForSignalingState, fillEditor, editorDigest, withTimeout, openBlankPage,
  sleep, finishBenchmark, benchSections,
} from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    runs: { type: 'string', default: '5' },
    'big-runs': { type: 'string', default: '2' },
    // Only the late-join figures (section 1), e.g. to compare two builds back to back.
    'join-only': { type: 'boolean', default: false },
  },
});
const RUNS = Number(opts.runs);
const BIG_RUNS = Number(opts['big-runs']);
const MB = 1024 * 1024;
const STEP_TIMEOUT_MS = 60_000;

const results = {};
const problems = [];

const section = benchSections(results, problems);

function quantile(xs, q) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const round1 = (x) => Math.round(x * 10) / 10;
const summary = (xs) => ({ runs: xs.map(round1), median: round1(quantile(xs, 0.5)), min: round1(Math.min(...xs)), max: round1(Math.max(...xs)) });

// ---- 1. late join ------------------------------------------------------------------------------

// Records the page's long tasks (>50 ms, the Long Tasks API) with their wall-clock start, and the
// app's own User Timing measures (named `cp:…`), so a window of them can be read afterwards.
function recordLongTasks() {
  window.__longTasks = [];
  try {
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longTasks.push({ at: performance.timeOrigin + e.startTime, duration: e.duration });
    }).observe({ type: 'longtask', buffered: true });
  } catch { /* no Long Tasks API */ }
}

// The longest task that started in [from, to] (epoch ms), and the app's measures meanwhile.
async function tasksBetween(page, from, to) {
  return withTimeout(page.evaluate(([f, t]) => ({
    longest: Math.max(0, ...(window.__longTasks ?? []).filter((x) => x.at >= f && x.at <= t).map((x) => x.duration)),
    measures: performance.getEntriesByType('measure').filter((e) => e.name.startsWith('cp:'))
      .map((e) => ({ name: e.name, at: Math.round(performance.timeOrigin + e.startTime - f), duration: Math.round(e.duration * 10) / 10 })),
  }), [from, to]), 10_000, 'reading long tasks');
}

async function lateJoin(browser, server, size, runs) {
  const times = [];
  const senderLongest = [];
  const receiverLongest = [];
  const breakdown = [];
  for (let i = 0; i < runs; i++) {
    const url = keyedRoomUrl(server, newRoomName('joinbench'), newRoomKey());
    let a;
    let b;
    try {
      a = await openUser(browser, url, { name: 'A', setup: (context) => context.addInitScript(recordLongTasks) });
      await waitForReady(a, { name: 'A' });
      await fillEditor(a, size, { steps: Math.max(1, Math.round(size / (2.5 * MB))), timeout: STEP_TIMEOUT_MS, name: 'A' });
      const want = await withTimeout(editorDigest(a), STEP_TIMEOUT_MS, '[A] hashing');
      const context = await browser.newContext();
      await context.addInitScript(recordLongTasks);
      b = await context.newPage();
      await sleep(300); // A's long tasks of filling and hashing end before the window opens
      const wall0 = Date.now();
      const t0 = performance.now();
      await b.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
      await b.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, size, { timeout: 120_000, polling: 20 })
        .catch(async () => {
          const state = await withTimeout(b.evaluate(() => ({
            length: Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length),
            peers: document.querySelector('#status')?.getAttribute('data-peers'),
            progress: document.querySelector('#sync-progress')?.getAttribute('value') ?? null,
          })), 10_000, 'reading B').catch((e) => e.message);
          throw new Error(`B did not get the ${size / MB} MB notebook within 120 s: ${JSON.stringify(state)}`);
        });
      times.push(performance.now() - t0);
      const wall1 = Date.now();
      // Work the receiver deferred until after showing the text (a preview, a save) still
      // counts against it: its window stays open a little longer.
      await sleep(1500);
      const sender = await tasksBetween(a, wall0, wall1);
      const receiver = await tasksBetween(b, wall0, Date.now());
      senderLongest.push(sender.longest);
      receiverLongest.push(receiver.longest);
      breakdown.push({ sender: sender.measures, receiver: receiver.measures });
      const got = await withTimeout(editorDigest(b), STEP_TIMEOUT_MS, '[B] hashing');
      if (got.sha256 !== want.sha256) throw new Error(`B's ${size / MB} MB notebook differs from A's (same length, other SHA-256)`);
    } finally {
      await closeUsers(a, b);
    }
  }
  return { ...summary(times), senderLongestTask: summary(senderLongest), receiverLongestTask: summary(receiverLongest), breakdown };
}

// ---- 2. key derivation -------------------------------------------------------------------------

async function pbkdf2InPage(browser, server) {
  const context = await browser.newContext();
  try {
    const page = await openBlankPage(context, server, { name: 'pbkdf2' });
    const times = await withTimeout(page.evaluate(async (runs) => {
      const out = [];
      for (let i = 0; i < runs; i++) {
        const secret = crypto.getRandomValues(new Uint8Array(16));
        const t0 = performance.now();
        const material = await crypto.subtle.importKey('raw', secret, 'PBKDF2', false, ['deriveKey']);
        await crypto.subtle.deriveKey({ name: 'PBKDF2', salt: new TextEncoder().encode(`room-${i}`), iterations: 100_000, hash: 'SHA-256' },
          material, { name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
        out.push(performance.now() - t0);
      }
      return out;
    }, RUNS), STEP_TIMEOUT_MS, 'PBKDF2 in the page');
    return summary(times);
  } finally {
    await context.close();
  }
}

// The app's own figure, if it publishes one as a User Timing entry.
async function appKeyTiming(browser, server) {
  const page = await openUser(browser, keyedRoomUrl(server, newRoomName('joinbench'), newRoomKey()), { name: 'app' });
  try {
    await waitForSignalingState(page, 'online', { name: 'app' });
    const entries = await withTimeout(page.evaluate(() => performance.getEntries()
      .filter((e) => e.entryType === 'measure' && /key|deriv|pbkdf|crypt/i.test(e.name))
      .map((e) => ({ name: e.name, type: e.entryType, start: e.startTime, duration: e.duration }))), 10_000, 'reading performance entries');
    return { entries };
  } finally {
    await closeUsers(page);
  }
}

// ---- 3. goto -> online, with and without a key ---------------------------------------------------

async function timeToOnline(browser, server, keyed) {
  const times = [];
  const longest = [];
  for (let i = 0; i < RUNS; i++) {
    const room = newRoomName('joinbench');
    const url = keyed ? keyedRoomUrl(server, room, newRoomKey()) : roomUrl(server, room);
    const context = await browser.newContext();
    // The main thread's long tasks (>50 ms) until online: a synchronous key derivation shows here.
    await context.addInitScript(() => {
      window.__longTasks = [];
      try {
        new PerformanceObserver((list) => { for (const e of list.getEntries()) window.__longTasks.push(e.duration); })
          .observe({ type: 'longtask', buffered: true });
      } catch { /* no Long Tasks API */ }
    });
    try {
      const page = await context.newPage();
      const t0 = performance.now();
      await page.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
      await page.waitForSelector('#status[data-signaling="online"]', { state: 'attached', timeout: 30_000, polling: 'raf' })
        .catch(() => { throw new Error(`#status[data-signaling="online"] did not appear within 30 s (${keyed ? 'keyed' : 'unkeyed'})`); });
      times.push(performance.now() - t0);
      await sleep(100); // let the observer deliver
      longest.push(await withTimeout(page.evaluate(() => Math.max(0, ...window.__longTasks)), 10_000, 'reading long tasks'));
    } finally {
      await context.close();
    }
  }
  return { ...summary(times), longestTask: summary(longest) };
}

// ---- run, print --------------------------------------------------------------------------------

// Joins from a peer: no server copy to read the notebook from instead.
await section('browser', () => withServerAndBrowser(async ({ server, browser }) => {
  if (!opts['join-only']) {
    await section('pbkdf2', () => pbkdf2InPage(browser, server));
    await section('appKeyTiming', () => appKeyTiming(browser, server));
    await section('onlineUnkeyed', () => timeToOnline(browser, server, false));
    await section('onlineKeyed', () => timeToOnline(browser, server, true));
  }
  await section('join1MB', () => lateJoin(browser, server, 1 * MB, RUNS));
  await section('join10MB', () => lateJoin(browser, server, 10 * MB, BIG_RUNS));
  return { ok: true };
}, { serverArgs: ['--no-store'] }));

const fmt = (s) => `median ${s.median} ms   (min ${s.min}, max ${s.max}; ${s.runs.length} runs: ${s.runs.join(', ')})`;
const lines = ['', 'Commonplace join benchmark', ''];
const row = (label, key) => { if (results[key]?.median !== undefined) lines.push(`  ${label.padEnd(48)} ${fmt(results[key])}`); };
row('late join, 1 MB notebook (goto -> complete):', 'join1MB');
row('late join, 10 MB notebook (goto -> complete):', 'join10MB');
for (const [label, key] of [['1 MB', 'join1MB'], ['10 MB', 'join10MB']]) {
  for (const [who, field] of [['sender', 'senderLongestTask'], ['receiver', 'receiverLongestTask']]) {
    const lt = results[key]?.[field];
    if (lt) lines.push(`  ${`  ${label}: ${who}'s longest main-thread task:`.padEnd(48)} ${fmt(lt)}`);
  }
  // The app's own measures (cp:…) in the last run: ms after goto, and how long.
  const last = results[key]?.breakdown?.at(-1);
  for (const who of ['sender', 'receiver']) {
    const m = last?.[who] ?? [];
    if (m.length) lines.push(`  ${`  ${label}: ${who}'s steps (last run):`.padEnd(48)} ${m.map((x) => `${x.name} @${x.at} ${x.duration} ms`).join('; ')}`);
  }
}
row('PBKDF2-SHA256 100k, crypto.subtle in page:', 'pbkdf2');
if (results.appKeyTiming?.entries) {
  const e = results.appKeyTiming.entries;
  lines.push(`  ${'app\'s own key-derivation timing:'.padEnd(48)} ${e.length ? e.map((x) => `${x.name} (${x.type}) ${round1(x.duration)} ms`).join('; ') : 'not exposed (no performance mark/measure named key/derive/pbkdf)'}`);
}
row('goto -> signaling online, no key:', 'onlineUnkeyed');
row('goto -> signaling online, with key:', 'onlineKeyed');
if (results.onlineUnkeyed?.median !== undefined && results.onlineKeyed?.median !== undefined) {
  lines.push(`  ${'  difference of medians (the key\'s cost):'.padEnd(48)} ${round1(results.onlineKeyed.median - results.onlineUnkeyed.median)} ms`);
}
for (const [label, key] of [['no key', 'onlineUnkeyed'], ['with key', 'onlineKeyed']]) {
  const lt = results[key]?.longestTask;
  if (lt) lines.push(`  ${`  longest main-thread task until online, ${label}:`.padEnd(48)} ${fmt(lt)}`);
}
finishBenchmark('join_bench', lines, problems, results);
