// Late joins in a loop (issue 9): someone is already in the room with a notebook; B opens the link
// and must receive all of it. Each run varies, in turn:
//   - keyed or open room;
//   - the one already there: a Commonplace browser, or a stock Yjs + y-webrtc page;
//   - the notebook: 1 KB, or 1 MB (a Commonplace peer; the Yjs peer's is 150 KB, because
//     y-webrtc sends a sync as one data-channel message and Chromium refuses messages past 256 KiB);
//   - the one already there idle for a moment, or still loading when B opens the link
//     (Commonplace: reloading its stored notebook; Yjs: its provider just created).
// A failure prints both pages' console output, their status and the rooms' sync reports
// (window.commonplaceSyncState), then fails the test. It never retries: a late joiner that stays
// empty once is a bug.
//
// LATE_JOIN_RUNS=n runs n joins (default 100). Prints the time from B opening the link to B
// holding the whole notebook, p50/p99 by notebook size.

import { test } from 'node:test';
import {
  setUpFile, server, browser, newRoomName, keyedRoomUrl, newRoomKey, waitForReady, waitForSaved, fillEditor,
  editorDigest, withTimeout, openYjsPeer, notebookText, status, sleep, firstLine, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';

const RUNS = Number(process.env.LATE_JOIN_RUNS || 100);
const KB = 1024;
const MB = 1024 * KB;
const JOIN_TIMEOUT_MS = 30_000;

// Peers must hand the late joiner the notebook: no server copy to do it for them.
setUpFile({ serverArgs: ['--no-store'] });

/** Run `i`'s variant: every combination comes round within 16 runs. */
function variant(i) {
  const keyed = i % 2 === 1;
  const first = (i >> 1) % 2 === 0 ? 'commonplace' : 'yjs';
  const loading = (i >> 2) % 2 === 1;
  const big = (i >> 3) % 2 === 1;
  const size = !big ? KB : first === 'yjs' ? 150 * KB : MB;
  return { keyed, first, loading, size, label: `${keyed ? 'keyed' : 'open'}, ${first} first (${loading ? 'loading' : 'idle'}), ${size / KB} KB` };
}

/** A page whose console output is kept whole, to print if the run fails. */
async function openPage(name, { key } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const log = [];
  page.on('console', (m) => log.push(`[${name}] console.${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => log.push(`[${name}] page error: ${e.stack || e.message}`));
  return { page, context, log, name, key };
}

async function report(who) {
  const page = who.page;
  const state = await withTimeout(page.evaluate(() => ({
    status: document.querySelector('#status')?.outerHTML ?? null,
    length: Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length),
    sync: typeof window.commonplaceSyncState === 'function' ? window.commonplaceSyncState() : null,
    yjs: window.__yjs ? { length: window.__yjs.text.length, peers: window.__yjs.peers } : null,
  })), 10_000, `[${who.name}] reading its state`).catch((e) => ({ unreadable: e.message }));
  return `--- ${who.name}: ${JSON.stringify(state, null, 1)}\n${who.log.join('\n')}`;
}

/** One late join; returns B's time from opening the link to holding the whole notebook, ms. */
async function lateJoin(i) {
  const v = variant(i);
  const room = newRoomName('latejoin');
  const key = v.keyed ? newRoomKey() : null;
  const url = keyedRoomUrl(server, room, key);
  const open = [];
  try {
    let want;
    let first;
    if (v.first === 'commonplace') {
      first = await openPage('A');
      open.push(first);
      await first.page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
      await waitForReady(first.page, { name: 'A' });
      await fillEditor(first.page, v.size, { name: 'A', seed: i });
      want = await withTimeout(editorDigest(first.page), 30_000, '[A] hashing');
      if (v.loading) {
        // B arrives while A reopens the notebook from IndexedDB.
        await waitForSaved(first.page, { name: 'A' });
        await first.page.evaluate(() => location.reload());
      }
    } else {
      const yjs = await openYjsPeer(browser, server, room, { key, name: 'Y' });
      first = { page: yjs.page, context: yjs.context, log: [], name: 'Y' };
      open.push(first);
      yjs.page.on('console', (m) => first.log.push(`[Y] console.${m.type()}: ${m.text()}`));
      const text = notebookText(v.size, i);
      await yjs.insert(text, 0);
      want = await withTimeout(yjs.digest(), 30_000, '[Y] hashing');
      if (!v.loading) await yjs.waitForText(text); // and its provider has had a moment
    }
    if (!v.loading) await sleep(300);

    const b = await openPage('B');
    open.push(b);
    const started = performance.now();
    await b.page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
    try {
      await b.page.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, want.length,
        { timeout: JOIN_TIMEOUT_MS, polling: 20 });
    } catch (err) {
      throw new Error(`run ${i} (${v.label}): B did not receive the ${want.length}-unit notebook within ${JOIN_TIMEOUT_MS} ms `
        + `(${firstLine(err)}); B's status ${JSON.stringify(await status(b.page))}`
        + `\n${await report(first)}\n${await report(b)}`);
    }
    const elapsed = performance.now() - started;
    const got = await withTimeout(editorDigest(b.page), 30_000, '[B] hashing');
    if (got.sha256 !== want.sha256) {
      throw new Error(`run ${i} (${v.label}): B holds ${got.length} units, but not the notebook (digest differs)\n${await report(first)}\n${await report(b)}`);
    }
    return { elapsed, size: v.size };
  } finally {
    await Promise.all(open.map((o) => o.context.close().catch(() => {})));
  }
}

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

test(`${RUNS} late joins in a row all receive the whole notebook`, { timeout: RUNS * 90_000 }, async () => {
  const times = new Map();
  const failures = [];
  const started = performance.now();
  for (let i = 0; i < RUNS; i++) {
    try {
      const { elapsed, size } = await lateJoin(i);
      if (!times.has(size)) times.set(size, []);
      times.get(size).push(elapsed);
    } catch (err) {
      failures.push(err.message);
      process.stderr.write(`late join ${i} FAILED (${variant(i).label})\n`);
    }
  }
  const lines = [...times].sort((a, b) => a[0] - b[0]).map(([size, list]) => {
    list.sort((a, b) => a - b);
    return `  ${size / KB} KB: ${list.length} joins, p50 ${Math.round(quantile(list, 0.5))} ms, p99 ${Math.round(quantile(list, 0.99))} ms, max ${Math.round(list[list.length - 1])} ms`;
  });
  process.stderr.write(`late joins: ${RUNS - failures.length} of ${RUNS} complete, ${failures.length} failed, in ${Math.round((performance.now() - started) / 1000)} s; link opened -> whole notebook:\n${lines.join('\n')}\n`);
  if (failures.length) {
    throw new Error(`${failures.length} of ${RUNS} late joiners did not receive the notebook; the first:\n${failures.slice(0, 3).join('\n\n')}`);
  }
});
