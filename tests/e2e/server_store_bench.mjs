// Prints figures for the server's encrypted store (issue 12, docs/store.md); asserts nothing about
// speed.
//   node tests/e2e/server_store_bench.mjs [--sizes 1,10] [--runs N] [--big-runs N] [--appends N] [--writers N]
// Sizes are in MB of notebook text (1 MB = 2^20 UTF-16 units, pasted by fillEditor in 1 MB steps);
// sizes of 10 MB and more get --big-runs runs (default 1: such a run takes about a minute on a
// 2-core machine), smaller ones --runs (default 3). Each figure: median, and every run.
// 1. Late join from the store alone: A opens a keyed room (#room=…&key=…) on a server with a
//    store folder of its own (a new temp --data per run, default pacing), pastes the text, waits
//    for #status[data-server-saved="yes"] and closes; the server is stopped cleanly and started
//    again on the same folder; then B (a new browser context, nobody else online) opens the
//    link: time from B's page.goto(link) until B's editor holds the whole text (length, then
//    SHA-256 checked equal to A's). Also A's pasting time, and from its last paste to saved.
// 2. The same join from a peer: a server started with --no-store (the same keyed link, so the
//    same key derivation and encryption, but no store): A pastes the text and stays open, B
//    opens the link; time from page.goto until B holds the whole text (then checked as above).
// 3. Server bytes on disk per notebook (from the store runs): once A is saved and a moment has
//    passed (the store compacted), the sum of the data folder's files while the server runs
//    (database, WAL, shared memory, marker, lock); after the clean stop (WAL checkpointed into
//    the database) the same sum and store.sqlite3 alone; and what the store serves a reader
//    (GET /store/{id}: its snapshot and records, ciphertext as sent). Against the document's
//    Yjs encoding (the file "Export notebook (Yjs)", #export-yjs, downloads) and the text's
//    UTF-8 size.
// 4. Appends per second the server commits (each answered 201 only after its transaction is on
//    disk: SQLite WAL, synchronous=FULL), from Node over HTTP (fetch, keep-alive) against the same
//    binary on a temp folder: N POSTs of 200-byte bodies to /store/{id}/records with a valid
//    bearer token, one writer sequentially, then 8 writers at once on 8 different stores (N/8
//    each). That server runs with --store-rate 1GiB --store-burst 1GiB so that the per-client
//    pacing (default 1 MiB/s, each write costing body + 1 KiB) does not measure itself.
// Results also go to tests/e2e/.artifacts/server_store_bench.json. Exits 1 only if a figure could
// not be taken (scripts/test reports that and goes on).

import { mkdtempSync, readdirSync, rmSync, statSync, statfsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import {
  APP_LOAD_TIMEOUT_MS, startServer, launchBrowser, openUser, closeUsers, newRoomName, newRoomKey, keyedRoomUrl,
  fillEditor, editorDigest, waitForServerSaved, withTimeout, sleep, firstLine, finishBenchmark,
} from './harness.mjs';

const { values: opts } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1,10' },
    runs: { type: 'string', default: '3' },
    'big-runs': { type: 'string', default: '1' },
    appends: { type: 'string', default: '2000' },
    writers: { type: 'string', default: '8' },
  },
});
const MB = 1024 * 1024;
const SIZES = opts.sizes.split(',').map((s) => Number(s.trim())).filter((s) => s > 0);
const RUNS = Math.max(1, Number(opts.runs));
const BIG_RUNS = Math.max(1, Number(opts['big-runs']));
const runsFor = (mb) => (mb >= 10 ? BIG_RUNS : RUNS);
const APPENDS = Number(opts.appends);
const WRITERS = Number(opts.writers);
const RECORD_BYTES = 200;
const TOKEN = Buffer.alloc(32, 7).toString('base64url');
/** Bounds: a 10 MB notebook is slow to paste, save and join, but not forever. */
const STEP_TIMEOUT_MS = 120_000;
const SAVE_TIMEOUT_MS = 240_000;
const JOIN_TIMEOUT_MS = 180_000;
/** "A moment" after saved, for the store to have compacted before its files are measured. */
const SETTLE_MS = 2_000;
/** The room's first visit finds no store yet: Chromium logs the 404 as a failed load. */
const IGNORE_CONSOLE = /status of 404/;

const results = { sizes: {}, appends: null };
const problems = [];
const log = (line) => process.stderr.write(`${line}\n`);

function quantile(xs, q) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}
const round = (x) => Math.round(x);
const summary = (xs) => (xs.length ? { runs: xs.map(round), median: round(quantile(xs, 0.5)) } : null);

// ---- files of the data folder --------------------------------------------------------------------

/** { total, files: { name: bytes } } of the regular files in `dir`. */
function folderBytes(dir) {
  const files = {};
  let total = 0;
  for (const name of readdirSync(dir)) {
    const st = statSync(path.join(dir, name));
    if (!st.isFile()) continue;
    files[name] = st.size;
    total += st.size;
  }
  return { total, files };
}

/** What kind of file system `dir` is on (fsync on tmpfs costs nothing, so say so). */
function fsKind(dir) {
  const kinds = { 0xef53: 'ext2/3/4', 0x01021994: 'tmpfs', 0x794c7630: 'overlayfs', 0x58465342: 'xfs', 0x9123683e: 'btrfs' };
  try {
    const { type } = statfsSync(dir);
    return kinds[type] ?? `type 0x${type.toString(16)}`;
  } catch {
    return 'unknown';
  }
}

/** The entries of a store read reply (docs/store.md's framing): { snapshot, records, recordBytes, more }. */
function readReply(body) {
  const out = { snapshot: 0, records: 0, recordBytes: 0, more: null, last: 0n };
  let at = 0;
  while (at < body.length) {
    const kind = body[at];
    const number = body.readBigUInt64BE(at + 1);
    if (kind === 3) { out.more = number; at += 9; continue; }
    const len = body.readUInt32BE(at + 9);
    if (kind === 1) out.snapshot += len;
    else if (kind === 2) { out.records += 1; out.recordBytes += len; out.last = number; } else throw new Error(`unknown entry kind ${kind} in the store's reply`);
    at += 13 + len;
  }
  return out;
}

/** What the store serves a reader of `id`, following `more` entries: { snapshot, records, recordBytes, body }. */
async function storeServes(server, id) {
  const base = `${server.url.replace(/\/$/, '')}/store/${id}`;
  const total = { snapshot: 0, records: 0, recordBytes: 0, body: 0 };
  let after = 0n;
  for (let i = 0; i < 100; i++) {
    const response = await fetch(`${base}?after=${after}`);
    if (response.status !== 200) throw new Error(`GET /store/${id}?after=${after}: ${response.status} ${await response.text()}`);
    const body = Buffer.from(await response.arrayBuffer());
    const r = readReply(body);
    total.snapshot += r.snapshot;
    total.records += r.records;
    total.recordBytes += r.recordBytes;
    total.body += body.length;
    if (r.more === null) return total;
    after = r.more;
  }
  throw new Error(`GET /store/${id}: still "more" after 100 replies`);
}

// ---- the browser side ----------------------------------------------------------------------------

/**
 * A in its own context, with the store ids its browser addresses recorded in the order first
 * addressed: the notebook's store, then its version history's (docs/history.md), opened later.
 */
async function openWriter(browser, url) {
  const ids = new Set();
  const page = await openUser(browser, url, {
    name: 'A',
    ready: true,
    ignoreConsole: IGNORE_CONSOLE,
    setup: (context) => context.on('request', (request) => {
      const m = request.url().match(/\/store\/([0-9a-f]{32})/);
      if (m) ids.add(m[1]);
    }),
  });
  return { page, ids: () => [...ids] };
}

/** Pastes `units` of text into A in 1 MB steps; returns { digest, utf8 }. */
async function fill(page, units) {
  await fillEditor(page, units, { steps: Math.max(1, Math.ceil(units / MB)), timeout: STEP_TIMEOUT_MS, name: 'A' });
  const digest = await withTimeout(editorDigest(page), STEP_TIMEOUT_MS, '[A] hashing the text');
  const utf8 = await withTimeout(page.evaluate(() => new TextEncoder().encode(document.querySelector('#editor').value).length),
    STEP_TIMEOUT_MS, '[A] measuring the text');
  if (digest.length !== units) throw new Error(`A's editor holds ${digest.length} units, not the ${units} pasted`);
  return { digest, utf8 };
}

/** The size of the notebook as "Export notebook (Yjs)" (#export-yjs) downloads it. */
async function exportedYjsBytes(page) {
  const [download] = await Promise.all([
    page.waitForEvent('download', { timeout: STEP_TIMEOUT_MS }),
    // Clicked from the page: the Files section may be scrolled away or folded.
    page.$eval('#export-yjs', (el) => el.click()),
  ]);
  const failure = await download.failure();
  if (failure) throw new Error(`the download from #export-yjs failed: ${failure}`);
  const bytes = statSync(await download.path()).size;
  await download.delete().catch(() => {});
  return bytes;
}

/**
 * B: a new context, nobody's storage; time from page.goto(url) until the editor holds `want`
 * (length, then SHA-256). `where` says where B gets it from, for errors.
 */
async function timeJoin(browser, url, want, where) {
  const context = await browser.newContext();
  try {
    const page = await context.newPage();
    const t0 = performance.now();
    await page.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });
    await page.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, want.length,
      { timeout: JOIN_TIMEOUT_MS, polling: 20 }).catch(async (err) => {
      const state = await withTimeout(page.evaluate(() => ({
        length: Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length),
        peers: document.querySelector('#status')?.getAttribute('data-peers'),
        serverSaved: document.querySelector('#status')?.getAttribute('data-server-saved'),
        serverCopy: document.querySelector('#server-copy')?.textContent ?? null,
      })), 10_000, 'reading B').catch((e) => e.message);
      throw new Error(`B did not get the ${want.length}-unit notebook from ${where} within ${JOIN_TIMEOUT_MS} ms: ${JSON.stringify(state)} (${firstLine(err)})`);
    });
    const ms = performance.now() - t0;
    const got = await withTimeout(editorDigest(page), STEP_TIMEOUT_MS, '[B] hashing the text');
    if (got.sha256 !== want.sha256) throw new Error(`B's notebook from ${where} differs from A's (same length, other SHA-256)`);
    return ms;
  } finally {
    await context.close().catch(() => {});
  }
}

/** One run of figure 1 and 3: A saves to the store and leaves; the server restarts; B joins. */
async function storeRun(browser, units) {
  const data = mkdtempSync(path.join(os.tmpdir(), 'commonplace-store-bench-'));
  let server;
  let a;
  try {
    server = await startServer({ data });
    const room = newRoomName('ssbench');
    const key = newRoomKey();
    a = await openWriter(browser, keyedRoomUrl(server, room, key));
    const tFill = performance.now();
    const { digest, utf8 } = await fill(a.page, units);
    const tFilled = performance.now();
    const fillMs = tFilled - tFill;
    await waitForServerSaved(a.page, { name: 'A', timeout: SAVE_TIMEOUT_MS });
    const savedMs = performance.now() - tFilled;
    const yjs = await exportedYjsBytes(a.page);
    await sleep(SETTLE_MS);
    const ids = a.ids();
    if (ids.length < 1 || ids.length > 2) throw new Error(`A addressed ${ids.length} store ids (${ids.join(', ')}), expected the notebook's and maybe its history's`);
    const served = await storeServes(server, ids[0]);
    await closeUsers(a.page);
    a = null;
    const live = folderBytes(data);
    await server.stop();
    const stopped = folderBytes(data);
    server = await startServer({ data });
    const joinMs = await timeJoin(browser, keyedRoomUrl(server, room, key), digest, 'the store');
    return { joinMs, fillMs, savedMs, utf8, yjs, served, live, stopped };
  } finally {
    if (a) await closeUsers(a.page);
    await server?.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

/** One run of figure 2: A (on a --no-store server) stays open while B joins. */
async function peerRun(browser, server, units) {
  let a;
  try {
    const url = keyedRoomUrl(server, newRoomName('ssbench-peer'), newRoomKey());
    a = await openWriter(browser, url);
    const { digest } = await fill(a.page, units);
    return { joinMs: await timeJoin(browser, url, digest, 'a peer') };
  } finally {
    if (a) await closeUsers(a.page);
  }
}

async function browserFigures() {
  const browser = await launchBrowser();
  let noStore;
  try {
    noStore = await startServer({ args: ['--no-store'] });
    for (const mb of SIZES) {
      const units = Math.round(mb * MB);
      const r = { units, runs: runsFor(mb), store: [], peer: [] };
      results.sizes[mb] = r;
      for (let i = 0; i < r.runs; i++) {
        log(`server_store_bench: ${mb} MB, run ${i + 1} of ${r.runs}: from the store`);
        try {
          r.store.push(await storeRun(browser, units));
        } catch (err) {
          problems.push(`${mb} MB, run ${i + 1}, join from the store: ${firstLine(err)}`);
        }
        log(`server_store_bench: ${mb} MB, run ${i + 1} of ${r.runs}: from a peer`);
        try {
          r.peer.push(await peerRun(browser, noStore, units));
        } catch (err) {
          problems.push(`${mb} MB, run ${i + 1}, join from a peer: ${firstLine(err)}`);
        }
      }
    }
  } finally {
    await browser.close().catch(() => {});
    await noStore?.stop();
  }
}

// ---- 4. appends per second -------------------------------------------------------------------------

/** `count` appends to store `id`, one after the other; returns how many were not 201 (with the first). */
async function appendLoop(base, id, count) {
  const body = Buffer.alloc(RECORD_BYTES, 0x5a);
  const headers = { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/octet-stream' };
  for (let i = 0; i < count; i++) {
    const response = await fetch(`${base}/store/${id}/records`, { method: 'POST', body, headers });
    const text = await response.text();
    if (response.status !== 201) throw new Error(`append ${i + 1} to ${id}: ${response.status} ${text}`);
  }
}

async function appendFigures() {
  const data = mkdtempSync(path.join(os.tmpdir(), 'commonplace-store-bench-'));
  let server;
  try {
    server = await startServer({ data, args: ['--store-rate', '1GiB', '--store-burst', '1GiB'] });
    const base = server.url.replace(/\/$/, '');
    const id = () => randomBytes(16).toString('hex');
    await appendLoop(base, id(), 50); // warm up: connection, database
    const out = { fs: fsKind(data), bodyBytes: RECORD_BYTES };
    for (const [writers, each] of [[1, APPENDS], [WRITERS, Math.ceil(APPENDS / WRITERS)]]) {
      const t0 = performance.now();
      await Promise.all(Array.from({ length: writers }, () => appendLoop(base, id(), each)));
      const secs = (performance.now() - t0) / 1000;
      out[writers === 1 ? 'one' : 'many'] = { writers, appends: writers * each, secs, perSec: (writers * each) / secs, msEach: (secs * 1000 * writers) / (writers * each) };
    }
    await server.stop();
    out.stopped = folderBytes(data);
    return out;
  } finally {
    await server?.stop();
    rmSync(data, { recursive: true, force: true });
  }
}

// ---- run, print ----------------------------------------------------------------------------------

const started = performance.now();
if (!SIZES.length) problems.push(`notebook sizes: none in --sizes ${JSON.stringify(opts.sizes)}`);
await browserFigures().catch((err) => problems.push(`browser: ${firstLine(err)}`));
results.appends = await appendFigures().catch((err) => { problems.push(`appends per second: ${firstLine(err)}`); return null; });
results.totalSecs = (performance.now() - started) / 1000;

const bytes = (n) => (n === undefined || n === null || Number.isNaN(n) ? '?' : n.toLocaleString('en-US'));
const ms = (x) => `${round(x)} ms`;
const fmtRuns = (s) => (s ? `${ms(s.median)} (${s.runs.join(', ')})` : 'not measured');
const medianOf = (runs, f) => (runs.length ? quantile(runs.map(f), 0.5) : undefined);

const lines = ['', 'Commonplace server store benchmark', ''];
lines.push(`  ${os.cpus().length} CPU(s); data folders in ${os.tmpdir()} (${fsKind(os.tmpdir())}); median (each run); 1 MB = 2^20 UTF-16 units, pasted in 1 MB steps`);
lines.push('');
lines.push(`  ${'late join, goto -> whole text'.padEnd(34)}${'from the store alone'.padEnd(34)}from a peer (--no-store)`);
for (const mb of SIZES) {
  const r = results.sizes[mb];
  if (!r) continue;
  r.storeJoin = summary(r.store.map((x) => x.joinMs));
  r.peerJoin = summary(r.peer.map((x) => x.joinMs));
  lines.push(`  ${`${mb} MB (${r.runs} run${r.runs === 1 ? '' : 's'})`.padEnd(34)}${fmtRuns(r.storeJoin).padEnd(34)}${fmtRuns(r.peerJoin)}`);
}
lines.push('  (store: A saved, closed; the server restarted on its folder; B alone opens the link. peer: A open, B opens the link)');
lines.push('');
lines.push('  A, store runs (server with default pacing: 1 MiB/s, burst 16 MiB)');
for (const mb of SIZES) {
  const r = results.sizes[mb];
  if (!r?.store.length) continue;
  r.fill = summary(r.store.map((x) => x.fillMs));
  r.saved = summary(r.store.map((x) => x.savedMs));
  lines.push(`  ${`${mb} MB`.padEnd(10)}pasting (${Math.max(1, Math.ceil(r.units / MB))} step${Math.ceil(r.units / MB) > 1 ? 's' : ''}) ${fmtRuns(r.fill)};   last paste -> data-server-saved ${fmtRuns(r.saved)}`);
}
lines.push('');
lines.push('  server bytes per notebook (medians, bytes)');
const cols = ['text UTF-8', 'Yjs export', 'store serves', 'folder live', 'folder stopped', 'store.sqlite3'];
lines.push(`  ${''.padEnd(10)}${cols.map((c) => c.padStart(15)).join('')}`);
for (const mb of SIZES) {
  const runs = results.sizes[mb]?.store ?? [];
  if (!runs.length) continue;
  const m = {
    utf8: medianOf(runs, (x) => x.utf8),
    yjs: medianOf(runs, (x) => x.yjs),
    served: medianOf(runs, (x) => x.served.snapshot + x.served.recordBytes),
    live: medianOf(runs, (x) => x.live.total),
    stopped: medianOf(runs, (x) => x.stopped.total),
    db: medianOf(runs, (x) => x.stopped.files['store.sqlite3'] ?? 0),
  };
  results.sizes[mb].bytes = m;
  lines.push(`  ${`${mb} MB`.padEnd(10)}${[m.utf8, m.yjs, m.served, m.live, m.stopped, m.db].map((v) => bytes(v).padStart(15)).join('')}`);
  const ratio = (v) => (m.yjs ? `${(v / m.yjs).toFixed(2)}x` : '?');
  lines.push(`  ${''.padEnd(10)}${['', '1.00x', ratio(m.served), ratio(m.live), ratio(m.stopped), ratio(m.db)].map((v) => v.padStart(15)).join('')}   (of the Yjs export)`);
  const last = runs.at(-1);
  lines.push(`  ${''.padEnd(10)}last run: the store served ${last.served.snapshot ? `a snapshot of ${bytes(last.served.snapshot)} B` : 'no snapshot'} and ${last.served.records} record(s) of ${bytes(last.served.recordBytes)} B`);
  lines.push(`  ${''.padEnd(10)}          live files: ${Object.entries(last.live.files).map(([n, b]) => `${n} ${bytes(b)}`).join(', ')}`);
}
lines.push(`  (live: every file of --data ${SETTLE_MS} ms after saved, server running; stopped: after a clean stop, WAL checkpointed)`);
const ap = results.appends;
if (ap) {
  lines.push('');
  lines.push(`  appends the server commits (${ap.bodyBytes}-byte bodies, each answered after it is on disk; data on ${ap.fs}; --store-rate 1GiB --store-burst 1GiB, so no pacing)`);
  for (const x of [ap.one, ap.many]) {
    if (!x) continue;
    lines.push(`  ${`${x.writers} writer${x.writers === 1 ? '' : 's'}${x.writers === 1 ? '' : ', one store each'}`.padEnd(34)}${`${round(x.perSec)} appends/s`.padEnd(20)}(${x.appends} in ${x.secs.toFixed(2)} s; ${x.msEach.toFixed(2)} ms each, as a writer waits)`);
  }
  lines.push(`  ${'data folder afterwards, stopped'.padEnd(34)}${bytes(ap.stopped.total)} bytes`);
}
lines.push('');
lines.push(`  total time ${round(results.totalSecs)} s`);
finishBenchmark('server_store_bench', lines, problems, results);
