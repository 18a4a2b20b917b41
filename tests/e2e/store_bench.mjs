// Prints figures for Commonplace's stored notebook (IndexedDB, y-indexeddb's layout); asserts
// nothing about speed.
//   node tests/e2e/store_bench.mjs [--synthetic] [--edits N] [--batch N]
// 1. Replays a real editing trace (../shared/traces/seph-blog1.json.gz: one author, ~138k
//    keystrokes) with Yjs in Node, one transaction per trace txn, keeping every update
//    (`doc.on('update')`): one update per keystroke, as the app appends them.
//    Without the trace (or with --synthetic): N seeded random edits instead.
// 2. Writes all those updates, one record each, into the room's database from a page of the app's
//    origin, as y-indexeddb would have left them (database = room name, version 1, `updates`
//    autoIncrement, `custom`).
// 3. Opens the room: time from navigation to #editor[data-ready="true"], and to the editor
//    holding the whole text; then waits for the app to compact the store, and opens it again.
// 4. Store size: the sum of the records' byte lengths (exact), and the origin's
//    navigator.storage.estimate() usage (what Chromium accounts on disk, coarse), against
//    the document's own encoding (Y.encodeStateAsUpdate).
// 5. Keystroke -> durable: from keydown to the completion of the next IndexedDB write to
//    `updates` (the contract: within ~100 ms).
// Results also go to tests/e2e/.artifacts/store_bench.json. Exits 1 only if a figure could not be
// taken.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { parseArgs } from 'node:util';
import * as Y from 'yjs';
import {
  REPO_ROOT, withServerAndBrowser, newRoomName, roomUrl, watchPage, waitForReady, openTab, sleep, APP_LOAD_TIMEOUT_MS,
  finishBenchmark, appendToYIndexedDb,
} from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    synthetic: { type: 'boolean', default: false },
    edits: { type: 'string', default: '20000' },
    batch: { type: 'string', default: '10000' },
  },
});
const TRACE = path.join(REPO_ROOT, '..', 'shared', 'traces', 'seph-blog1.json.gz');
const SYNTHETIC_EDITS = Number(opts.edits);
const BATCH = Number(opts.batch);
/** Bounds: loading the whole history and compacting it may be slow, but not forever. */
const LOAD_TIMEOUT_MS = 120_000;
const COMPACT_TIMEOUT_MS = 120_000;
/** y-indexeddb's PREFERRED_TRIM_SIZE; the app compacts at this many records. */
const TRIM_SIZE = 500;

const results = {};
const problems = [];
const log = (line) => process.stderr.write(`${line}\n`);

// ---- 1. the updates ------------------------------------------------------------------------------

/**
 * Replays `txns` ([{ patches: [[pos, del, ins]] }], positions and lengths in code points) into a
 * Yjs doc whose text counts UTF-16 units. Returns { doc, updates, text }.
 */
function replay(txns) {
  const doc = new Y.Doc();
  // A fixed client id, so that sizes repeat from run to run (ids are random uint32s, and their
  // varint length shows in every update); this one takes 5 bytes, as most random ids do.
  doc.clientID = 2_654_435_769;
  const page = doc.getText('page');
  const updates = [];
  doc.on('update', (update) => updates.push(update));
  // Code-point indices of the astral characters (two UTF-16 units each), ascending: few in
  // practice, so a linear scan converts positions cheaply.
  let astral = [];
  const toUtf16 = (cp) => {
    let extra = 0;
    for (const a of astral) {
      if (a >= cp) break;
      extra++;
    }
    return cp + extra;
  };
  for (const { patches } of txns) {
    doc.transact(() => {
      for (const [pos, del, ins] of patches) {
        if (del > 0) {
          const from = toUtf16(pos);
          const to = toUtf16(pos + del);
          page.delete(from, to - from);
          astral = astral.filter((a) => a < pos || a >= pos + del).map((a) => (a >= pos + del ? a - del : a));
        }
        if (ins) {
          const at = toUtf16(pos);
          const cps = [...ins];
          page.insert(at, ins);
          astral = astral.map((a) => (a >= pos ? a + cps.length : a));
          cps.forEach((c, i) => { if (c.length === 2) astral.push(pos + i); });
          astral.sort((x, y) => x - y);
        }
      }
    });
  }
  return { doc, updates, text: page.toString() };
}

function traceUpdates() {
  const trace = JSON.parse(gunzipSync(readFileSync(TRACE)).toString('utf8'));
  if (trace.startContent) throw new Error('seph-blog1 has startContent; this replay assumes an empty start');
  const t0 = performance.now();
  const r = replay(trace.txns);
  const ms = performance.now() - t0;
  if (r.text !== trace.endContent) throw new Error('replaying seph-blog1 with Yjs did not give its endContent');
  return { source: `seph-blog1 (${trace.txns.length} txns)`, ...r, replayMs: ms };
}

/** Seeded random edits (mulberry32): inserts of 1-8 letters, deletions of 1-5, anywhere. */
function syntheticUpdates(n, seed = 0xC0FFEE) {
  let s = seed >>> 0;
  const rand = () => {
    s = (s + 0x6D2B79F5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const txns = [];
  let length = 0;
  const letters = 'abcdefghijklmnopqrstuvwxyz      \n';
  for (let i = 0; i < n; i++) {
    if (length > 0 && rand() < 0.25) {
      const pos = Math.floor(rand() * length);
      const del = Math.min(length - pos, 1 + Math.floor(rand() * 5));
      txns.push({ patches: [[pos, del, '']] });
      length -= del;
    } else {
      const pos = Math.floor(rand() * (length + 1));
      const k = 1 + Math.floor(rand() * 8);
      let ins = '';
      for (let j = 0; j < k; j++) ins += letters[Math.floor(rand() * letters.length)];
      txns.push({ patches: [[pos, 0, ins]] });
      length += k;
    }
  }
  const t0 = performance.now();
  const r = replay(txns);
  return { source: `synthetic (${n} seeded random edits)`, ...r, replayMs: performance.now() - t0 };
}

// ---- 2.-4. in the browser --------------------------------------------------------------------------

/** { count, bytes } of database `name`'s updates store (bytes only when withBytes). */
async function storeFigures(page, name, withBytes) {
  return page.evaluate(({ name, withBytes }) => new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    request.onupgradeneeded = () => request.transaction.abort();
    request.onerror = () => reject(new Error(`open ${name}: ${request.error}`));
    request.onsuccess = () => {
      const db = request.result;
      const store = db.transaction('updates', 'readonly').objectStore('updates');
      const counted = store.count();
      counted.onsuccess = () => {
        if (!withBytes) { db.close(); return resolve({ count: counted.result }); }
        let bytes = 0;
        const cursor = store.openCursor();
        cursor.onsuccess = () => {
          const c = cursor.result;
          if (c) { bytes += c.value.byteLength ?? 0; c.continue(); } else { db.close(); resolve({ count: counted.result, bytes }); }
        };
        cursor.onerror = () => reject(new Error(`cursor on ${name}: ${cursor.error}`));
      };
      counted.onerror = () => reject(new Error(`count on ${name}: ${counted.error}`));
    };
  }), { name, withBytes });
}

const usage = (page) => page.evaluate(async () => (await navigator.storage.estimate()).usage);

/** Opens the room in a new page of `context`: { readyMs, textMs, textAtReady }. */
async function openAndTime(context, url, expected, name) {
  const page = watchPage(await context.newPage(), { name });
  const t0 = performance.now();
  await page.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(page, { timeout: LOAD_TIMEOUT_MS, name });
  const readyMs = performance.now() - t0;
  const textAtReady = await page.evaluate((want) => document.querySelector('#editor').value === want, expected);
  try {
    await page.waitForFunction((want) => document.querySelector('#editor').value === want, expected, { timeout: LOAD_TIMEOUT_MS, polling: 10 });
  } catch (err) {
    const length = await page.evaluate(() => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length));
    throw new Error(`[${name}] the editor never held the whole text (${expected.length} UTF-16 units) within ${LOAD_TIMEOUT_MS} ms: it has ${length}`);
  }
  const textMs = performance.now() - t0;
  return { page, readyMs, textMs, textAtReady };
}

async function inBrowser(browser, server, data) {
  const room = newRoomName('storebench');
  const context = await browser.newContext();
  try {
    // A page of the app's origin (another room), which also installs the service worker.
    const writer = await openTab(context, roomUrl(server, newRoomName('storebench-writer')), { name: 'writer', ready: true });
    // The shell's cache counts in the origin's usage: let it be complete before the baseline.
    await writer.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: APP_LOAD_TIMEOUT_MS });
    const usageBefore = await usage(writer);

    const t0 = performance.now();
    for (let i = 0; i < data.updates.length; i += BATCH) await appendToYIndexedDb(writer, room, data.updates.slice(i, i + BATCH));
    const writeMs = performance.now() - t0;
    const written = await storeFigures(writer, room, true);
    if (written.count !== data.updates.length) throw new Error(`wrote ${data.updates.length} records, the store has ${written.count}`);
    const usageWritten = await usage(writer);

    const url = roomUrl(server, room);
    const first = await openAndTime(context, url, data.text, 'first open');
    // The app compacts what it loaded (>= TRIM_SIZE records): wait for it.
    const tc = performance.now();
    let compacted = await storeFigures(writer, room, false);
    while (compacted.count >= TRIM_SIZE) {
      if (performance.now() - tc > COMPACT_TIMEOUT_MS) throw new Error(`the app did not compact ${compacted.count} records within ${COMPACT_TIMEOUT_MS} ms of opening the room`);
      await sleep(100);
      compacted = await storeFigures(writer, room, false);
    }
    const compactSeenMs = first.textMs + (performance.now() - tc);
    compacted = await storeFigures(writer, room, true);
    await first.page.close();
    const usageCompacted = await usage(writer);

    const second = await openAndTime(context, url, data.text, 'second open');
    await second.page.close();
    return {
      room,
      writeMs,
      records: written.count,
      recordBytes: written.bytes,
      first: { readyMs: first.readyMs, textMs: first.textMs, textAtReady: first.textAtReady, compactedWithinMs: compactSeenMs },
      second: { readyMs: second.readyMs, textMs: second.textMs, textAtReady: second.textAtReady },
      compacted: { records: compacted.count, bytes: compacted.bytes },
      usage: { before: usageBefore, written: usageWritten - usageBefore, compacted: usageCompacted - usageBefore },
    };
  } finally {
    await context.close();
  }
}

// ---- 5. keystroke -> durable -------------------------------------------------------------------------

/**
 * Types KEYS keys, DELAY ms apart, and times each from keydown (capture phase) to the completion
 * of the next read-write IndexedDB transaction on `updates` (instrumented in the page).
 */
async function durableLatency(browser, server) {
  const KEYS = 100;
  const DELAY = 40;
  const context = await browser.newContext();
  try {
    await context.addInitScript(() => {
      window.__keys = [];
      window.__commits = [];
      addEventListener('keydown', () => window.__keys.push(performance.now()), true);
      const transaction = IDBDatabase.prototype.transaction;
      IDBDatabase.prototype.transaction = function (stores, mode, ...rest) {
        const txn = transaction.call(this, stores, mode, ...rest);
        const names = typeof stores === 'string' ? [stores] : [...stores];
        if (mode === 'readwrite' && names.includes('updates')) txn.addEventListener('complete', () => window.__commits.push(performance.now()));
        return txn;
      };
    });
    const page = await openTab(context, roomUrl(server, newRoomName('storebench-keys')), { name: 'typist', ready: true });
    await page.focus('#editor');
    for (let i = 0; i < KEYS; i++) {
      await page.keyboard.press('abcdefghijklmnopqrstuvwxyz'[i % 26]);
      await sleep(DELAY);
    }
    await sleep(1_000);
    const { keys, commits } = await page.evaluate(() => ({ keys: window.__keys, commits: window.__commits }));
    if (keys.length !== KEYS) throw new Error(`recorded ${keys.length} keydowns, expected ${KEYS}`);
    const latencies = keys.map((k) => {
      const c = commits.find((t) => t >= k);
      if (c === undefined) throw new Error('a keystroke was never followed by a committed write to updates');
      return c - k;
    });
    const sorted = [...latencies].sort((x, y) => x - y);
    const q = (p) => sorted[Math.min(sorted.length - 1, Math.ceil(p * sorted.length) - 1)];
    return { keys: KEYS, delayMs: DELAY, commits: commits.length, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: sorted.at(-1) };
  } finally {
    await context.close();
  }
}

// ---- run, print --------------------------------------------------------------------------------------

const round = (x) => Math.round(x);
const kb = (n) => (n === undefined || Number.isNaN(n) ? '?' : `${(n / 1024).toFixed(1)} kB`);
const ms = (x) => `${round(x)} ms`;

let data;
try {
  if (!opts.synthetic && existsSync(TRACE)) {
    data = traceUpdates();
  } else {
    if (!opts.synthetic) log(`store_bench: ${TRACE} is absent; skipping the real trace, using ${SYNTHETIC_EDITS} seeded random edits instead`);
    data = syntheticUpdates(SYNTHETIC_EDITS);
  }
  results.source = data.source;
  results.updates = data.updates.length;
  results.updateBytes = data.updates.reduce((s, u) => s + u.length, 0);
  results.textUtf16 = data.text.length;
  results.encodedState = Y.encodeStateAsUpdate(data.doc).length;
  results.encodedStateV2 = Y.encodeStateAsUpdateV2(data.doc).length;
  results.replayMs = data.replayMs;
} catch (err) {
  problems.push(`updates: ${err.message}`);
}

if (data) {
  await withServerAndBrowser(async ({ server, browser }) => {
    results.browser = await inBrowser(browser, server, data).catch((err) => { problems.push(`reload: ${err.message}`); });
    results.durable = await durableLatency(browser, server).catch((err) => { problems.push(`keystroke -> durable: ${err.message}`); });
  }).catch((err) => { problems.push(`browser: ${err.message}`); });
}

const lines = ['', 'Commonplace stored-notebook benchmark', ''];
if (results.updates !== undefined) {
  lines.push(`  history                       ${results.source}: ${results.updates} updates, ${kb(results.updateBytes)}; text ${results.textUtf16} UTF-16 units`);
  lines.push(`  replay in Node (Yjs)          ${ms(results.replayMs)}`);
  lines.push(`  document encoded              ${kb(results.encodedState)} (encodeStateAsUpdate v1)   ${kb(results.encodedStateV2)} (v2)`);
}
const b = results.browser;
if (b) {
  lines.push(`  written to IndexedDB          ${b.records} records in ${ms(b.writeMs)} (batches of ${BATCH}, from the page)`);
  lines.push('');
  lines.push(`  ${'open the room'.padEnd(30)}${'-> data-ready'.padStart(14)}${'-> whole text'.padStart(15)}  text complete at ready`);
  lines.push(`  ${`1st (${b.records} records)`.padEnd(30)}${ms(b.first.readyMs).padStart(14)}${ms(b.first.textMs).padStart(15)}  ${b.first.textAtReady ? 'yes' : 'NO'}`);
  lines.push(`  ${`2nd (${b.compacted.records} record${b.compacted.records === 1 ? '' : 's'}, compacted)`.padEnd(30)}${ms(b.second.readyMs).padStart(14)}${ms(b.second.textMs).padStart(15)}  ${b.second.textAtReady ? 'yes' : 'NO'}`);
  lines.push(`  compaction seen done          ${ms(b.first.compactedWithinMs)} after navigation (polled every 100 ms)`);
  lines.push('');
  lines.push(`  ${'store size'.padEnd(30)}${'sum of records'.padStart(16)}${'storage.estimate() delta'.padStart(27)}`);
  lines.push(`  ${'all updates, one per record'.padEnd(30)}${kb(b.recordBytes).padStart(16)}${kb(b.usage.written).padStart(27)}`);
  lines.push(`  ${'after compaction'.padEnd(30)}${kb(b.compacted.bytes).padStart(16)}${kb(b.usage.compacted).padStart(27)}`);
  lines.push(`  ${'document (encodeStateAsUpdate)'.padEnd(30)}${kb(results.encodedState).padStart(16)}`);
  lines.push('  (sum of records: exact bytes of the stored Uint8Arrays; estimate(): the origin\'s usage as Chromium accounts it, coarse and includes overhead)');
}
const d = results.durable;
if (d) {
  lines.push('');
  lines.push(`  keystroke -> durable          p50 ${ms(d.p50)}   p90 ${ms(d.p90)}   p99 ${ms(d.p99)}   max ${ms(d.max)}   (${d.keys} keys ${d.delayMs} ms apart; keydown -> next completed read-write transaction on updates; ${d.commits} transactions)`);
}
finishBenchmark('store_bench', lines, problems, results);
