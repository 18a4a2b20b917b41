// The notebook outlives its browsers (issue 12): a keyed room keeps an end-to-end encrypted copy
// in the server's store (real server, real SQLite in a temp --data folder, headless Chromium).
// Every test starts servers of its own, with a store folder the test owns.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { spawnSync } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import {
  setUpFile, browser, startServer, openUser, closeUsers, keyedRoomUrl, roomUrl, newRoomName, newRoomKey,
  waitForReady, waitForValue, typeText, editorValue, fillEditor, withTimeout, assertNoPageErrors,
  waitForServerSaved, serverCopyState, until, SERVER_BIN, DIST_DIR, DEFAULT_TIMEOUT_MS,
} from './harness.mjs';

setUpFile({ server: false });

/** A store folder for the test, removed after it (servers started on it must be stopped first). */
function storeFolder(t) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-store-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

async function serverOn(t, data, options = {}) {
  const server = await startServer({ data, ...options });
  t.after(() => server.stop());
  return server;
}

const trafficOf = new WeakMap();

/** One person in a context of their own, whose store requests are recorded (storeTraffic). */
async function person(t, url, name, { setup, ...options } = {}) {
  const page = await openUser(browser, url, {
    name,
    ready: true,
    // A room's first visit finds no store yet (404), a removed one is gone (410): Chromium
    // logs each as a failed resource load.
    ignoreConsole: /status of 40[14]|status of 410/,
    ...options,
    setup: async (context) => {
      trafficOf.set(context, recordStoreTraffic(context));
      await setup?.(context, name);
    },
  });
  t.after(() => closeUsers(page));
  return page;
}

/** What a person's browser asked the store: ids, the write token, snapshots' outcomes, each request. */
function storeTraffic(page) {
  return trafficOf.get(page.context());
}

function recordStoreTraffic(context) {
  const ids = new Set();
  let token;
  const snapshots = [];
  const requests = [];
  context.on('request', (request) => {
    const m = request.url().match(/\/store\/([0-9a-f]{32})(.*)$/);
    if (!m) return;
    ids.add(m[1]);
    token ??= request.headers().authorization;
    requests.push({ at: Date.now(), method: request.method(), path: m[2] || '/' });
  });
  context.on('response', (response) => {
    if (/\/store\/[0-9a-f]{32}\/snapshot/.test(response.url())) snapshots.push({ status: response.status() });
  });
  return { ids: () => [...ids], token: () => token, snapshots: () => [...snapshots], requests: () => [...requests] };
}

/** Every file in `dir`, with its bytes (the database, its WAL and shared memory, the marker). */
function storeFiles(dir) {
  return readdirSync(dir).filter((f) => statSync(path.join(dir, f)).isFile())
    .map((f) => ({ name: f, bytes: readFileSync(path.join(dir, f)) }));
}

/** Where `needle` appears in the files, as UTF-8, UTF-16LE or UTF-16BE. */
function findInFiles(files, needle) {
  const forms = {
    'UTF-8': Buffer.from(needle, 'utf8'),
    'UTF-16LE': Buffer.from(needle, 'utf16le'),
    'UTF-16BE': Buffer.from(needle, 'utf16le').swap16(),
  };
  const found = [];
  for (const { name, bytes } of files) {
    for (const [encoding, form] of Object.entries(forms)) {
      if (bytes.includes(form)) found.push(`${JSON.stringify(needle)} in ${name} as ${encoding}`);
    }
  }
  return found;
}

/** `<origin>/store/<id>` on `server`. */
const storeUrl = (server, id) => `${server.url.replace(/\/$/, '')}/store/${id}`;

/** A server of the test's own on a store folder of its own, and a keyed room's link on it. */
async function keyedRoomOnOwnServer(t, prefix, serverOptions) {
  const data = storeFolder(t);
  const server = await serverOn(t, data, serverOptions);
  const url = keyedRoomUrl(server, newRoomName(prefix), newRoomKey());
  return { data, server, url };
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

test('A writes and closes; the server restarts; B opens the link with nobody online and has everything; the store holds no plaintext, room name or key', async (t) => {
  const data = storeFolder(t);
  let server = await serverOn(t, data);
  const room = newRoomName('outlives');
  const key = newRoomKey();
  const url = (s) => keyedRoomUrl(s, room, key);

  const a = await person(t, url(server), 'A');
  const words = ['Marginalia', 'überzeugend', 'naïveté', '日本語のノート', 'Zwischenablage', 'serendipitous'];
  const text = `${words.join(' ')}\n[[Reading list]] and a second line\n`;
  await typeText(a, text, { at: 0 });
  await waitForServerSaved(a, { name: 'A' });
  const [storeId] = storeTraffic(a).ids();
  assert.equal((await serverCopyState(a)).label, 'Saved to server');
  await closeUsers(a);

  // Scanned while the server runs (the WAL holds the latest writes) and after it stopped.
  const secrets = [...words, room, key, 'Reading list'];
  const leaks = (files) => secrets.flatMap((s) => findInFiles(files, s));
  const live = storeFiles(data);
  assert.ok(live.some((f) => f.name === 'store.sqlite3-wal'), `no WAL while running: ${live.map((f) => f.name)}`);
  assert.deepEqual(leaks(live), [], 'plaintext, the room name or the key in the running server\'s files');
  // The scan finds what is there: the store id is in the database, as the server files it.
  assert.ok(findInFiles(live, storeId).length || live.some((f) => f.bytes.includes(Buffer.from(storeId, 'hex'))),
    `the store id ${storeId} is not in the files: the scan would not find anything`);
  await server.stop();
  assert.deepEqual(leaks(storeFiles(data)), [], 'plaintext, the room name or the key in the stopped server\'s files');

  // A new server on the same folder; B is the only one in the room.
  server = await serverOn(t, data);
  const b = await person(t, url(server), 'B');
  await waitForValue(b, text, { name: 'B' });
  await waitForServerSaved(b, { name: 'B' });
  assertNoPageErrors(b);
});

test('a wrong key reads nothing; without the write token nobody can append, replace or delete', async (t) => {
  const data = storeFolder(t);
  const server = await serverOn(t, data);
  const room = newRoomName('wrongkey');
  const key = newRoomKey();
  const a = await person(t, keyedRoomUrl(server, room, key), 'A');
  const traffic = storeTraffic(a);
  await typeText(a, 'only for those who hold the key', { at: 0 });
  await waitForServerSaved(a, { name: 'A' });
  const [id] = traffic.ids();
  assert.match(id ?? '', /^[0-9a-f]{32}$/, 'A addressed its store by a 32-hex id');
  const token = traffic.token();
  assert.match(token ?? '', /^Bearer [A-Za-z0-9_-]{43}$/);
  await closeUsers(a);

  // Another key, the same room name: another store (the id comes from the key), so nothing.
  const wrong = await person(t, keyedRoomUrl(server, room, newRoomKey()), 'wrong key');
  const wrongTraffic = storeTraffic(wrong);
  await waitForServerSaved(wrong, { name: 'wrong key' });
  assert.equal(await editorValue(wrong), '');
  assert.ok(!wrongTraffic.ids().includes(id), 'the wrong key asked for the right store');
  await closeUsers(wrong);

  const base = storeUrl(server, id);
  const before = Buffer.from(await (await fetch(base)).arrayBuffer());
  assert.ok(before.length > 0);
  const attempts = [
    ['POST', `${base}/records`, Buffer.from('forged record')],
    ['PUT', `${base}/snapshot?covers=1&replaces=0`, Buffer.from('forged snapshot')],
    ['DELETE', base, undefined],
  ];
  for (const [authorization, status] of [[undefined, 401], [`Bearer ${'A'.repeat(43)}`, 403]]) {
    for (const [method, target, body] of attempts) {
      const headers = authorization ? { authorization } : {};
      const response = await fetch(target, { method, body, headers });
      const reply = await response.json();
      assert.equal(response.status, status, `${method} ${target} with ${authorization ? 'a wrong token' : 'no token'}`);
      assert.match(reply.error, /token/i, `a clear error: ${JSON.stringify(reply)}`);
    }
  }
  const after = Buffer.from(await (await fetch(base)).arrayBuffer());
  assert.equal(sha256(after), sha256(before), 'the store changed');

  // Those who hold the key still read it all.
  const b = await person(t, keyedRoomUrl(server, room, key), 'B');
  await waitForValue(b, 'only for those who hold the key', { name: 'B' });
});

test('10,000 edits: snapshots compact the store, which stays bounded, and a fresh browser loads it exactly', async (t) => {
  const { server, url } = await keyedRoomOnOwnServer(t, 'compact');
  const a = await person(t, url, 'A');
  const traffic = storeTraffic(a);
  // 10,000 edits, one input event each (typed words, and every tenth a word deleted again),
  // in bursts so that they go up as a few hundred records.
  const EDITS = 10_000;
  const BURST = 50;
  for (let done = 0; done < EDITS; done += BURST) {
    await withTimeout(a.evaluate(({ from, n }) => {
      const el = document.querySelector('#editor');
      el.focus();
      for (let i = from; i < from + n; i++) {
        const at = el.value.length;
        if (i % 10 === 9) {
          const cut = el.value.lastIndexOf(' ', at - 2) + 1;
          el.setSelectionRange(cut, at);
          el.setRangeText('', cut, at, 'end');
          el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'deleteWordBackward' }));
        } else {
          const word = `word${i}-${'x'.repeat(150)} `;
          el.setRangeText(word, at, at, 'end');
          el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: word }));
        }
      }
    }, { from: done, n: BURST }), 30_000, `[A] edits ${done}..${done + BURST}`);
    // Let a record go up now and then.
    if (done % 1_000 === 0) await a.waitForTimeout(600);
  }
  const text = await editorValue(a);
  await waitForServerSaved(a, { name: 'A', timeout: 60_000 });
  const snapshots = traffic.snapshots();
  assert.ok(snapshots.some((s) => s.status === 200), `A never took a snapshot: ${JSON.stringify(snapshots)}`);

  // Bounded: what a reader is served is a snapshot and fewer records than a snapshot's
  // threshold, of the order of the document itself, not of its 10,000 edits.
  const [id] = traffic.ids();
  const body = Buffer.from(await (await fetch(storeUrl(server, id))).arrayBuffer());
  const entries = readEntries(body);
  assert.equal(entries[0]?.kind, 'snapshot', 'the store is served from a snapshot');
  const records = entries.filter((e) => e.kind === 'record');
  assert.ok(records.length < 300, `${records.length} records after the snapshot`);
  const textBytes = Buffer.byteLength(text);
  assert.ok(body.length < 3 * textBytes, `the store serves ${body.length} bytes for a ${textBytes}-byte text`);
  await closeUsers(a);

  const b = await person(t, url, 'B');
  await waitForValue(b, text, { name: 'B', timeout: 30_000 });
  assertNoPageErrors(b);
});

/** The entries of a read reply (docs/store.md's framing). */
function readEntries(body) {
  const entries = [];
  let at = 0;
  while (at < body.length) {
    const kind = body[at];
    const number = body.readBigUInt64BE(at + 1);
    if (kind === 3) { entries.push({ kind: 'more', after: number }); at += 9; continue; }
    const len = body.readUInt32BE(at + 9);
    entries.push({ kind: kind === 1 ? 'snapshot' : 'record', number, len });
    at += 13 + len;
  }
  return entries;
}

test('two browsers snapshot at the same moment: one wins, the other reads it, nothing is lost', async (t) => {
  const { server, url } = await keyedRoomOnOwnServer(t, 'race');
  // D leaves records behind (five large pastes, a record each, together short of a snapshot).
  const d = await person(t, url, 'D');
  for (let i = 0; i < 5; i++) {
    await fillEditor(d, 120_000, { name: 'D', seed: 77 + i });
    await waitForServerSaved(d, { name: 'D', timeout: 30_000 });
  }
  const text = await editorValue(d);
  await closeUsers(d);

  // A and B open it, then both paste more than a record holds at the same moment: each sends
  // its paste in a snapshot replacing none. Both snapshot requests are held until both are
  // made, then let through together: one must lose the compare-and-swap.
  const held = [];
  let release;
  const bothMade = new Promise((resolve) => { release = resolve; });
  const hold = async (route) => {
    held.push(route);
    if (held.length === 2) release();
    await Promise.race([bothMade, new Promise((r) => setTimeout(r, 20_000))]);
    await route.continue();
  };
  // What each browser warned of, with its store requests, for a failure to show.
  const started = Date.now();
  const warnings = { A: [], B: [] };
  const setup = async (context, name) => {
    context.on('console', (msg) => {
      if (msg.type() === 'warning') warnings[name].push({ at: Date.now(), text: `warning: ${msg.text().slice(0, 300)}` });
    });
    await context.route('**/store/*/snapshot*', hold);
  };
  // No service worker (it is registered once a peer connects, mid-test): Playwright advises
  // blocking them where routes must see every request.
  const contextOptions = { serviceWorkers: 'block' };
  const [a, b] = await Promise.all([
    person(t, url, 'A', { setup, contextOptions }),
    person(t, url, 'B', { setup, contextOptions }),
  ]);
  const [ta, tb] = [storeTraffic(a), storeTraffic(b)];
  await Promise.all([waitForValue(a, text, { name: 'A', timeout: 30_000 }), waitForValue(b, text, { name: 'B', timeout: 30_000 })]);
  const pasting = Date.now();
  await Promise.all([
    fillEditor(a, 250_000, { name: 'A', seed: 1 }),
    fillEditor(b, 250_000, { name: 'B', seed: 2 }),
  ]);
  try {
    await withTimeout(bothMade, 20_000, 'A and B did not both send a snapshot');
  } catch (error) {
    const state = async (page) => page.evaluate(() => {
      const s = document.querySelector('#status');
      return `${s?.getAttribute('data-server-saved')} / ${s?.textContent?.trim()}`;
    }).catch((e) => `unreadable: ${e.message}`);
    const story = (traffic, name) => [
      ...traffic.requests().map((r) => ({ at: r.at, text: `${r.method} ${r.path}` })),
      ...warnings[name],
      { at: pasting, text: 'both have the text; pasting' },
    ].sort((x, y) => x.at - y.at).map((e) => `${e.at - started} ms ${e.text}`).join('\n  ');
    error.message += `\nA (${await state(a)}):\n  ${story(ta, 'A')}\nB (${await state(b)}):\n  ${story(tb, 'B')}`;
    throw error;
  }
  await Promise.all([waitForServerSaved(a, { name: 'A', timeout: 30_000 }), waitForServerSaved(b, { name: 'B', timeout: 30_000 })]);
  const outcomes = [...ta.snapshots(), ...tb.snapshots()].map((s) => s.status);
  assert.ok(outcomes.includes(409) && outcomes.includes(200), `the snapshots' answers: ${outcomes}`);
  // B's paste reaches A from B directly; the store's round trips need not have waited for it.
  const merged = await until('both pastes in A', () => editorValue(a), (v) => v.length === text.length + 500_000);
  await waitForValue(b, merged, { name: 'B' });
  await closeUsers(a, b);

  const c = await person(t, url, 'C');
  await waitForValue(c, merged, { name: 'C', timeout: 30_000 });
});

test('edits made offline reach the store when the network returns, also from a tab closed while offline', async (t) => {
  const { server, url } = await keyedRoomOnOwnServer(t, 'offline');
  const a = await person(t, url, 'A');
  await typeText(a, 'online first. ', { at: 0 });
  await waitForServerSaved(a, { name: 'A' });

  const context = a.context();
  await context.setOffline(true);
  await typeText(a, 'written offline. ', { at: 'end' });
  await a.waitForFunction(() => document.querySelector('#status')?.getAttribute('data-server-saved') === 'no');
  assert.equal((await serverCopyState(a)).label, 'Not yet on server');
  await context.setOffline(false);
  await waitForServerSaved(a, { name: 'A', timeout: 30_000 });

  // Offline again, an edit, and the tab is closed before the network returns.
  await context.setOffline(true);
  await typeText(a, 'and closed offline.', { at: 'end' });
  const text = await editorValue(a);
  await a.waitForTimeout(800);
  await a.close();
  await context.setOffline(false);
  // The next visit (the same browser, back online) sends what the store never acknowledged.
  const again = await context.newPage();
  await again.goto(url);
  await waitForReady(again);
  await waitForValue(again, text, { name: 'A again' });
  await waitForServerSaved(again, { name: 'A again', timeout: 30_000 });
  await closeUsers(again);

  const c = await person(t, url, 'C');
  await waitForValue(c, text, { name: 'C' });
});

test('a flood of appends hits the quota with a clear error; other stores keep working; a browser over quota says so', async (t) => {
  const data = storeFolder(t);
  const server = await serverOn(t, data, { args: ['--store-quota', '256KiB'] });
  const flooded = 'f'.repeat(32);
  const authorization = `Bearer ${Buffer.alloc(32, 0xf1).toString('base64url')}`;
  let refusal;
  for (let i = 0; i < 100 && !refusal; i++) {
    const response = await fetch(`${storeUrl(server, flooded)}/records`, { method: 'POST', headers: { authorization }, body: Buffer.alloc(16 * 1024, i) });
    if (response.status !== 201) refusal = { status: response.status, body: await response.json() };
  }
  assert.equal(refusal?.status, 507, JSON.stringify(refusal));
  assert.match(refusal.body.error, /full|quota/i);

  // Another room's store is not affected.
  const url = keyedRoomUrl(server, newRoomName('neighbour'), newRoomKey());
  const a = await person(t, url, 'A');
  await typeText(a, 'next door, all is well', { at: 0 });
  await waitForServerSaved(a, { name: 'A' });

  // A notebook larger than the quota: the store refuses it, and the person is told.
  const b = await person(t, keyedRoomUrl(server, newRoomName('toolarge'), newRoomKey()), 'B');
  await fillEditor(b, 400_000, { name: 'B' });
  await b.waitForFunction(() => document.querySelector('#server-copy')?.getAttribute('data-state') === 'error', null, { timeout: DEFAULT_TIMEOUT_MS });
  assert.match((await serverCopyState(b)).label, /refused/);
});

test('an open room keeps no server copy, and says so; "Remove server copy" deletes it for good, the notebook stays', async (t) => {
  const data = storeFolder(t);
  const server = await serverOn(t, data);
  const open = await person(t, roomUrl(server, newRoomName('open')), 'open');
  const openTraffic = storeTraffic(open);
  await typeText(open, 'nothing of this goes to the store', { at: 0 });
  await open.waitForTimeout(1_000);
  assert.match((await serverCopyState(open)).label, /open room/);
  assert.equal(openTraffic.ids().length, 0, 'an open room spoke to the store');

  const room = newRoomName('removed');
  const key = newRoomKey();
  const url = keyedRoomUrl(server, room, key);
  const a = await person(t, url, 'A');
  const traffic = storeTraffic(a);
  await typeText(a, 'ours to remove', { at: 0 });
  await waitForServerSaved(a, { name: 'A' });
  const [id] = traffic.ids();
  a.once('dialog', (dialog) => dialog.accept());
  await a.click('#remove-server-copy');
  await a.waitForFunction(() => document.querySelector('#server-copy')?.getAttribute('data-state') === 'none');
  const read = () => fetch(storeUrl(server, id)).then((r) => r.status);
  const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
  while ((await read()) === 200 && Date.now() < deadline) await a.waitForTimeout(50);
  assert.equal(await read(), 410, 'the store is gone for good');
  assert.equal(await editorValue(a), 'ours to remove', 'the notebook stays in the browser');
  await closeUsers(a);
  // Someone else with the key opens it later: their browser has nothing, the server nothing.
  const b = await person(t, url, 'B');
  await b.waitForFunction(() => document.querySelector('#server-copy')?.getAttribute('data-state') === 'none');
  assert.equal(await editorValue(b), '');
});

test('corrupt and truncated database files, after a clean stop and after a crash: a clear startup error, nothing overwritten', async (t) => {
  const data = storeFolder(t);
  const db = path.join(data, 'store.sqlite3');
  const wal = `${db}-wal`;
  let server = await serverOn(t, data);
  const url = (s) => keyedRoomUrl(s, room, key);
  const room = newRoomName('corrupt');
  const key = newRoomKey();
  const a = await person(t, url(server), 'A');
  await typeText(a, 'a notebook worth keeping', { at: 0 });
  await waitForServerSaved(a, { name: 'A' });
  await closeUsers(a);
  await server.stop();
  assert.ok(!existsSync(wal), 'a clean stop leaves the database whole, without a WAL');
  const good = readFileSync(db);
  // What the server must leave byte for byte: every file but `-shm`, SQLite's index of the
  // WAL, which whatever reads a WAL rebuilds (it holds no data).
  const kept = () => storeFiles(data).filter((f) => !f.name.endsWith('-shm')).map((f) => [f.name, sha256(f.bytes)]);
  const refuses = (what) => {
    const before = kept();
    const run = spawnSync(SERVER_BIN, ['--port', '0', '--bind', '127.0.0.1', '--dist', DIST_DIR, '--data', data], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(run.status, 0, `${what}: the server started on it`);
    assert.match(`${run.stderr}${run.stdout}`, /store\.sqlite3/, `${what}: the error names the file: ${run.stderr}`);
    assert.deepEqual(kept(), before, `${what}: the files changed`);
  };
  const cases = [
    ['truncated', () => truncateSync(db, Math.floor(good.length / 2) + 100)],
    ['corrupt', () => { const bad = Buffer.from(good); bad.fill(0xa5, 4096); writeFileSync(db, bad); }],
    ['not a database', () => writeFileSync(db, Buffer.from('this is not SQLite at all, but it is someone\'s file'))],
  ];
  for (const [what, damage] of cases) {
    writeFileSync(db, good);
    damage();
    refuses(what);
  }

  // After a crash: the WAL beside the file holds the last writes; a damaged file is refused
  // and its WAL is neither copied into it nor removed.
  writeFileSync(db, good);
  server = await serverOn(t, data);
  const b = await person(t, url(server), 'B');
  await waitForValue(b, 'a notebook worth keeping', { name: 'B' });
  await typeText(b, ', and more after the crash', { at: 'end' });
  await waitForServerSaved(b, { name: 'B' });
  await closeUsers(b);
  await server.kill();
  assert.ok(existsSync(wal), 'a killed server leaves its WAL');
  const crashed = readFileSync(db);
  const bad = Buffer.from(crashed);
  bad.fill(0xa5, 4096);
  writeFileSync(db, bad);
  refuses('corrupt after a crash');
});
