// Durability under repetition: a browser typing into its notebook is killed abruptly, again and
// again — its renderer crashed (Chromium's Page.crash: the tab dies, the browser and its
// IndexedDB backend live on) and the whole browser SIGKILLed (no unload, nothing flushed), in
// turn. After each kill the same profile opens the room again, with nobody else in it and no
// server copy: what it shows comes from IndexedDB alone. Each time:
//   - every key typed more than 100 ms before the kill is there (the durability contract);
//   - what is there is what was typed, in order: a prefix of it, never a corruption;
//   - IndexedDB opens, its records are all bytes, and the app says saved, not error.
// The worst loss (how long before its kill the oldest lost key was typed) is printed.
//
// DURABILITY_KILLS=n sets the number of kills (50 by default, as the issue asks).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  serverFor, newRoomName, roomUrl, editorValue, waitForReady, savedState, idbUpdates,
  launchProfile, watchPage, setCaret, sleep, APP_LOAD_TIMEOUT_MS,
  keyedRoomUrl, newRoomKey, typeText, waitForSaved, waitForServerSaved, waitForValue,
} from './harness.mjs';

const KILLS = Number(process.env.DURABILITY_KILLS || 50);
/** Keys older than this at the kill must survive it. */
const DURABLE_MS = 100;
/** The kill comes this long after typing began, drawn at random between the two. */
const KILL_AFTER_MS = [150, 900];

const log = (line) => process.stderr.write(`${line}\n`);

/** A small seeded generator: the same kill times on every run of the same seed. */
function random(seed) {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13; x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5; x >>>= 0;
    return x / 2 ** 32;
  };
}

/** What kill `i` types: its number, then letters, as many as it has time for. */
function keysFor(i) {
  const letters = 'abcdefghijklmnopqrstuvwxyz';
  let text = `[${i}:`;
  for (let k = 0; text.length < 600; k++) text += letters[k % letters.length];
  return text;
}

/**
 * What the profile's IndexedDB directories hold on disk, and the end of each LevelDB's LOG (where
 * LevelDB says what it recovered or found corrupt): for a failure's message.
 */
function idbFiles(userDataDir) {
  const root = path.join(userDataDir, 'Default', 'IndexedDB');
  const lines = [];
  try {
    for (const dir of readdirSync(root)) {
      lines.push(`  ${dir}/`);
      const full = path.join(root, dir);
      if (!statSync(full).isDirectory()) continue;
      for (const file of readdirSync(full)) lines.push(`    ${file} ${statSync(path.join(full, file)).size} B`);
      for (const log of ['LOG.old', 'LOG', 'corruption_info.json']) {
        try {
          const text = readFileSync(path.join(full, log), 'utf8').trim().split('\n').slice(-12);
          lines.push(`    ${log}:`, ...text.map((l) => `      ${l}`));
        } catch { /* none */ }
      }
    }
  } catch (err) {
    lines.push(`  ${root}: ${err.message}`);
  }
  return lines.join('\n');
}

/** The page of `current` after `kind` of kill, opened on `url` and loaded from IndexedDB. */
async function reopen(current, kind, userDataDir, url, name) {
  let page;
  if (kind === 'renderer') {
    page = watchPage(await current.context.newPage(), { name });
  } else {
    await current.waitGone();
    current = await launchProfile(userDataDir, name);
    page = current.page;
  }
  await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(page, { name });
  return { current, page };
}

test(`${KILLS} abrupt kills of a typing browser: every key older than ${DURABLE_MS} ms survives each, and IndexedDB stays readable`, { timeout: KILLS * 20_000 + 60_000 }, async (t) => {
  // No server copy: what the reopened page shows comes from IndexedDB alone.
  const server = await serverFor(t, { args: ['--no-store'] });
  const room = newRoomName('kills');
  const url = roomUrl(server, room);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-kills-'));
  const seed = Number(process.env.DURABILITY_SEED || 16);
  const rand = random(seed);
  let current = await launchProfile(userDataDir, 'A0');
  t.after(async () => {
    if (!current.killed) await current.context.close().catch(() => {});
    else await current.waitGone().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  });
  let page = current.page;
  await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(page, { name: 'A0' });

  let expected = '';
  let worstLossMs = null;
  let lostKeys = 0;
  let typedKeys = 0;
  const kinds = { renderer: 0, process: 0 };
  for (let i = 0; i < KILLS; i++) {
    const kind = i % 2 === 0 ? 'renderer' : 'process';
    kinds[kind]++;
    const cdp = kind === 'renderer' ? await current.context.newCDPSession(page) : null;
    await setCaret(page, 'end');
    const keys = keysFor(i);
    const acked = [];
    let stop = false;
    const typing = (async () => {
      for (const key of keys) {
        if (stop) return;
        try {
          await page.keyboard.type(key);
        } catch {
          return; // the kill came in the middle of this key
        }
        acked.push(performance.now());
      }
    })();
    await sleep(KILL_AFTER_MS[0] + rand() * (KILL_AFTER_MS[1] - KILL_AFTER_MS[0]));
    const killedAt = performance.now();
    if (cdp) {
      const crashed = page.waitForEvent('crash');
      cdp.send('Page.crash').catch(() => {}); // never answers: the renderer is gone
      await crashed;
    } else {
      current.kill();
    }
    stop = true;
    await typing;
    const crashedPage = page;
    ({ current, page } = await reopen(current, kind, userDataDir, url, `A${i + 1} after ${kind} kill ${i + 1}`));
    if (kind === 'renderer') await crashedPage.close().catch(() => {});

    const after = await editorValue(page);
    const stored = await idbUpdates(page, room).catch((err) => ({ error: err.message }));
    const saved = await savedState(page);
    const durable = acked.filter((at) => at <= killedAt - DURABLE_MS).length;
    const sent = expected + keys;
    // The profile's files are read for the message only when it fails.
    if (!(sent.startsWith(after) && after.length >= expected.length)) {
      assert.fail(`kill ${i + 1} (${kind}): the notebook is not a prefix of what was typed:\n  typed ${JSON.stringify(sent)}\n  found ${JSON.stringify(after)}` +
        `\n  IndexedDB reads back ${JSON.stringify(stored)}; #saved says ${JSON.stringify(saved)}\n${idbFiles(userDataDir)}`);
    }
    const kept = after.length - expected.length;
    assert.ok(kept >= durable,
      `kill ${i + 1} (${kind}): ${durable - kept} key(s) typed more than ${DURABLE_MS} ms before the kill are lost ` +
      `(oldest ${(killedAt - acked[kept]).toFixed(0)} ms before it; ${durable} durable, ${kept} kept)`);
    typedKeys += acked.length;
    if (kept < acked.length) {
      lostKeys += acked.length - kept;
      const lossMs = killedAt - acked[kept];
      worstLossMs = Math.max(worstLossMs ?? 0, lossMs);
    }
    assert.ok(stored.exists && stored.count > 0 && stored.nonBytes === 0,
      `kill ${i + 1} (${kind}): IndexedDB reads back ${JSON.stringify(stored)}`);
    assert.notEqual(saved.state, 'error', `kill ${i + 1} (${kind}): #saved says ${JSON.stringify(saved)}`);
    expected = after;
  }
  log(`[durability loop] ${KILLS} kills (${kinds.renderer} renderer crashes, ${kinds.process} browser SIGKILLs), ` +
    `${typedKeys} keys acknowledged before their kill, ${lostKeys} of them lost; worst loss: ` +
    `${worstLossMs === null ? 'none' : `a key typed ${worstLossMs.toFixed(0)} ms before its kill`} ` +
    `(allowed: under ${DURABLE_MS} ms); the notebook ended at ${expected.length} characters`);
});

// A browser may find its IndexedDB corrupt (a disk's fault, a crash at the wrong moment): Chromium
// then deletes it and starts the database afresh, saying so only on the upgrade event
// (`dataLoss`). The app says it, never silently shows an empty notebook as if nothing had been
// there, and the server copy of a keyed room brings the notebook back.
test('an IndexedDB the browser found corrupt and started afresh, and no second copy: the app says so (console and storage badge), and the server copy brings the notebook back', async (t) => {
  const server = await serverFor(t);
  const room = newRoomName('idb-loss');
  const url = keyedRoomUrl(server, room, newRoomKey());
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-idb-loss-'));
  let current = await launchProfile(userDataDir, 'A');
  t.after(async () => {
    await current.context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  });
  await current.page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  const text = 'kept by the server while this browser lost it';
  await typeText(current.page, text, { at: 'end' });
  await waitForSaved(current.page, { name: 'A' });
  await waitForServerSaved(current.page, { name: 'A' });
  await current.context.close();

  // Garbage in the middle of the database's write-ahead log: a checksum mismatch LevelDB finds
  // on opening it.
  const idb = path.join(userDataDir, 'Default', 'IndexedDB');
  const leveldb = path.join(idb, readdirSync(idb).find((dir) => dir.endsWith('.indexeddb.leveldb')));
  const logs = readdirSync(leveldb).filter((file) => file.endsWith('.log'));
  assert.ok(logs.length > 0, `no write-ahead log in ${leveldb}: ${readdirSync(leveldb).join(', ')}`);
  for (const log of logs) {
    const bytes = readFileSync(path.join(leveldb, log));
    bytes.fill(0x55, 10, Math.min(bytes.length, 400));
    writeFileSync(path.join(leveldb, log), bytes);
  }
  // And the notebook's second copy (src/journal.rs) gone with the origin's file system: only the
  // server copy is left to bring it back.
  rmSync(path.join(userDataDir, 'Default', 'File System'), { recursive: true, force: true });

  current = await launchProfile(userDataDir, 'A again');
  const warnings = [];
  current.page.on('console', (msg) => { if (msg.type() === 'warning') warnings.push(msg.text()); });
  await current.page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(current.page, { name: 'A again' });
  await waitForValue(current.page, text, { name: 'A again' });
  assert.ok(warnings.some((w) => w.includes('lost what it stored of this notebook') && w.includes('corrupt')),
    `the app did not say the browser lost its stored notebook; its warnings: ${JSON.stringify(warnings)}`);
  // And what came back is stored again here; the storage badge says the browser had lost it.
  await waitForSaved(current.page, { name: 'A again' });
  const badge = await current.page.$eval('#saved', (el) => ({ lost: el.dataset.lost, text: el.textContent, title: el.title }));
  assert.equal(badge.lost, 'true', `#saved does not say the browser lost its copy: ${JSON.stringify(badge)}`);
  assert.match(badge.text, /lost its copy/);
  const stored = await idbUpdates(current.page, room);
  assert.ok(stored.count > 0, `IndexedDB holds ${JSON.stringify(stored)} after the notebook came back`);
});

/** The LevelDB directory of the profile's IndexedDB for the app's origin, and its newest log. */
function idbLog(userDataDir) {
  const idb = path.join(userDataDir, 'Default', 'IndexedDB');
  const leveldb = path.join(idb, readdirSync(idb).find((dir) => dir.endsWith('.indexeddb.leveldb')));
  const logs = readdirSync(leveldb).filter((file) => file.endsWith('.log')).sort();
  assert.ok(logs.length > 0, `no write-ahead log in ${leveldb}: ${readdirSync(leveldb).join(', ')}`);
  return path.join(leveldb, logs.at(-1));
}

// What a browser killed between writing a log record's header and its payload leaves behind
// (seen in the durability loop about once in a few hundred SIGKILLs; here made on purpose: the
// same 7 bytes). Chromium opens its LevelDB fine the next time, and writes after the torn
// header; the time after, it finds a checksum mismatch and deletes the origin's IndexedDB.
// Nobody else is in the room and there is no server copy: the notebook comes back from this
// browser's second copy (src/journal.rs), whole, and is stored in IndexedDB again.
test('a log record torn by a kill makes Chromium delete IndexedDB two starts later: the second copy brings the whole notebook back, with nobody else and no server copy', async (t) => {
  const server = await serverFor(t, { args: ['--no-store'] });
  const room = newRoomName('torn-log');
  const url = roomUrl(server, room);
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-torn-log-'));
  let current = null;
  t.after(async () => {
    await current?.context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  });
  const open = async (name) => {
    current = await launchProfile(userDataDir, name);
    const warnings = [];
    current.page.on('console', (msg) => { if (msg.type() === 'warning') warnings.push(msg.text()); });
    await current.page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
    await waitForReady(current.page, { name });
    return { page: current.page, warnings };
  };

  let { page } = await open('A');
  const before = 'written before the torn record. ';
  await typeText(page, before, { at: 'end' });
  await waitForSaved(page, { name: 'A' });
  await current.context.close();

  // A record header (checksum, length 64, type FULL) and no payload, at the end of the log.
  writeFileSync(idbLog(userDataDir), Buffer.from([0x11, 0x22, 0x33, 0x44, 0x40, 0x00, 0x01]), { flag: 'a' });

  ({ page } = await open('A after the tear'));
  await waitForValue(page, before, { name: 'A after the tear' });
  const after = 'Written after it.';
  await typeText(page, after, { at: 'end' });
  await waitForValue(page, before + after, { name: 'A after the tear' });
  await waitForSaved(page, { name: 'A after the tear' });
  await current.context.close();

  const again = await open('A again');
  await waitForValue(again.page, before + after, { name: 'A again' });
  // Chromium did delete it (else this test proves nothing), and the app said what came back.
  assert.ok(again.warnings.some((w) => w.includes('lost what it stored of this notebook')),
    `Chromium kept its IndexedDB this time (no data loss said); warnings: ${JSON.stringify(again.warnings)}`);
  assert.ok(again.warnings.some((w) => w.includes('second copy brought it back')),
    `the app did not say the second copy brought the notebook back; warnings: ${JSON.stringify(again.warnings)}`);
  await waitForSaved(again.page, { name: 'A again' });
  const badge = await again.page.$eval('#saved', (el) => ({ lost: el.dataset.lost ?? null, text: el.textContent }));
  assert.equal(badge.lost, null, `#saved says the notebook was lost though it came back: ${JSON.stringify(badge)}`);
  const stored = await idbUpdates(again.page, room);
  assert.ok(stored.count > 0 && stored.nonBytes === 0, `IndexedDB holds ${JSON.stringify(stored)} after the notebook came back`);
  await current.context.close();

  // Stored again: the next start reads it from IndexedDB itself.
  const last = await open('A last');
  assert.equal(await editorValue(last.page), before + after);
  assert.ok(!last.warnings.some((w) => w.includes('second copy brought it back')),
    `IndexedDB still lacked part of the notebook; warnings: ${JSON.stringify(last.warnings)}`);
});
