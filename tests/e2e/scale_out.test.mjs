// Past one machine (issue 13): several server instances on one Redis, behind one origin, with
// real Chromium, real server binaries, a real redis-server, real WebRTC and real IndexedDB.
//
// Each test starts a Redis of its own (redis.mjs: AOF synced on every write), two instances of
// the release binary on it (`--redis`, `--metrics`), and a TCP balancer in front of them
// (balancer.mjs), which sends each new connection to the instance the test chose last: so a
// browser's WebSocket stays on the instance it was opened on, and the browsers see one site.
// Which instance holds a page's WebSocket is read twice: from the balancer (which peeks at
// `GET /signal`), and from each instance's own `commonplace_websockets_open`.
//
// To see these tests fail: E2E_SCALE_WITHOUT_REDIS=1 starts the instances without `--redis`
// (each its own SQLite store and its own signaling, as two unrelated servers behind one
// balancer); E2E_REDIS_ARGS='--appendonly no' runs Redis without its append-only file, so a
// crash loses what it acknowledged.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, browser, startServer, openUser, closeUsers, keyedRoomUrl, newRoomName, newRoomKey,
  waitForPeers, waitForValue, waitForConvergence, waitForServerSaved, waitForSignalingState, waitForReady,
  typeText, setCaret, editorValue, status, until, assertNoPageErrors, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';
import { startRedis, skipWithoutRedis } from './redis.mjs';
import { startBalancer } from './balancer.mjs';

setUpFile({ server: false });

const WITHOUT_REDIS = !!process.env.E2E_SCALE_WITHOUT_REDIS;
const TEST_TIMEOUT_MS = 150_000;
// The app's signaling reconnects with backoff of at most 4 s (offline_first.test.mjs).
const RECONNECT_TIMEOUT_MS = 10_000;
// The app's store requests are retried with backoff from 1 s, doubling (server_store.rs): after an
// outage of a few seconds the next try can be 8 s away.
const STORE_RESUME_TIMEOUT_MS = 45_000;
// Chromium logs each failed resource load: the store's 404 on a room's first visit, and its 503
// while Redis is lost.
const IGNORE_CONSOLE = /status of (404|410|503)/;

/**
 * Redis, two instances of the server on it, and a balancer in front of them (backend 1 and 2),
 * all stopped after test `t`, once the people opened on it (`pages`) are closed:
 * { redis, instances, balancer, pages }.
 */
async function cluster(t) {
  const redis = await startRedis({ name: 'scale-out' });
  const instances = [];
  const pages = new Set();
  const balancerRef = {};
  t.after(async () => {
    await closeUsers(...pages);
    await balancerRef.balancer?.close();
    await Promise.all(instances.map((s) => s.stop()));
    await redis.stop();
  });
  for (let i = 0; i < 2; i++) {
    instances.push(await startServer({ args: WITHOUT_REDIS ? ['--metrics'] : ['--redis', redis.url, '--metrics'] }));
  }
  balancerRef.balancer = await startBalancer(instances);
  return { redis, instances, balancer: balancerRef.balancer, pages };
}

/** A gauge or counter without labels from an instance's own /metrics (not through the balancer). */
async function metric(instance, name) {
  const text = await (await fetch(new URL('/metrics', instance.url))).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  if (!line) throw new Error(`no ${name} in ${instance.url}metrics`);
  return Number(line.slice(name.length + 1));
}

/** The HTTP status of an instance's own /healthz (0 if it does not answer). */
async function healthz(instance) {
  try {
    return (await fetch(new URL('/healthz', instance.url), { signal: AbortSignal.timeout(2_000) })).status;
  } catch {
    return 0;
  }
}

/** Signaling WebSockets each instance holds, by its own count: [n1, n2]. */
function websocketsOpen(instances) {
  return Promise.all(instances.map((s) => metric(s, 'commonplace_websockets_open')));
}

/**
 * One person in a new browser context, opened through instance `via` (the balancer sends it
 * every connection until the page's signaling WebSocket is open there); waits until the
 * notebook is loaded and signaling is online.
 */
async function person({ balancer, pages }, url, name, { via }) {
  balancer.route(via);
  const before = balancer.describe();
  const page = await openUser(browser, url, { name, ready: true, ignoreConsole: IGNORE_CONSOLE });
  pages.add(page);
  await until(`[${name}] its signaling WebSocket to open through instance ${via}`, () => balancer.describe(),
    (now) => now[via].signals === before[via].signals + 1 && now[via].openSignals === before[via].openSignals + 1);
  await waitForSignalingState(page, 'online', { name });
  for (const n of [1, 2]) {
    if (n !== via) assert.equal(balancer.signals(n), before[n].signals, `[${name}] a signaling WebSocket went to instance ${n}`);
  }
  return page;
}

/**
 * Someone who reads the notebook from the server's store alone: a fresh context whose
 * signaling WebSocket is refused in the browser (so it can meet no peer, whoever is online),
 * waited on until the store has been read (#status[data-server-saved="yes"]).
 */
async function storeReader({ pages }, url, name) {
  const page = await openUser(browser, url, {
    name,
    ready: true,
    ignoreConsole: IGNORE_CONSOLE,
    setup: (context) => context.routeWebSocket(/\/signal$/, (ws) => ws.close({ code: 1011, reason: 'e2e: a store reader meets nobody' })),
  });
  pages.add(page);
  await waitForServerSaved(page, { name, timeout: STORE_RESUME_TIMEOUT_MS });
  assert.equal((await status(page)).peers, '0', `[${name}] met a peer: it should read the store alone`);
  return page;
}

/**
 * Records every change of the page's #status (signaling, peers, server-saved) with the time
 * and, when the server copy turns "yes", the editor's text at that moment; read with
 * statusLog().
 */
async function recordStatus(page) {
  await page.evaluate(() => {
    const el = document.querySelector('#status');
    const log = [];
    const read = () => {
      const saved = el.getAttribute('data-server-saved');
      log.push({
        t: Date.now(),
        signaling: el.getAttribute('data-signaling'),
        peers: el.getAttribute('data-peers'),
        saved,
        text: saved === 'yes' ? document.querySelector('#editor').value : undefined,
      });
    };
    read();
    new MutationObserver(read).observe(el, { attributes: true, attributeFilter: ['data-signaling', 'data-peers', 'data-server-saved'] });
    window.__e2eStatusLog = log;
  });
}

function statusLog(page) {
  return page.evaluate(() => window.__e2eStatusLog);
}

// ---- 1. two instances, one room ------------------------------------------------------------------

test('A through instance 1 and B through instance 2 meet in a keyed room and co-edit', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (skipWithoutRedis(t)) return;
  const c = await cluster(t);
  const url = keyedRoomUrl(c.balancer, newRoomName('scale-meet'), newRoomKey());
  const a = await person(c, url, 'A', { via: 1 });
  const b = await person(c, url, 'B', { via: 2 });
  // The instances count a WebSocket once its upgrade is done, a moment after the browser sees it open.
  await until('each instance to hold one of the two WebSockets, by its own count', () => websocketsOpen(c.instances),
    (open) => open[0] === 1 && open[1] === 1);

  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  await typeText(a, 'base', { at: 0 });
  await waitForValue(b, 'base', { name: 'B' });
  const fromA = 'ABCDEFGHIJKLMNOP';
  const fromB = '0123456789012345';
  await Promise.all([typeText(a, fromA, { at: 0, delay: 15 }), typeText(b, fromB, { at: 'end', delay: 15 })]);
  const text = await waitForConvergence([a, b], { until: (v) => v.length === 4 + fromA.length + fromB.length, timeout: 20_000 });
  assert.equal(text, `${fromA}base${fromB}`);
  assert.deepEqual(await websocketsOpen(c.instances), [1, 1], 'a WebSocket moved to another instance');
  assertNoPageErrors(a, b);
});

// ---- 2. written through one, read through the other ----------------------------------------------

test('A writes through instance 1 and leaves; C, alone, opens through instance 2 and gets the notebook from the shared store', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (skipWithoutRedis(t)) return;
  const c = await cluster(t);
  const url = keyedRoomUrl(c.balancer, newRoomName('scale-store'), newRoomKey());
  const a = await person(c, url, 'A', { via: 1 });
  const text = 'Written through instance one.\nRead through instance two: überall, 日本語.\n';
  await typeText(a, text, { at: 0 });
  await waitForServerSaved(a, { name: 'A' });
  assert.equal(c.balancer.connections(2), 0, 'something of A\'s went through instance 2');
  await closeUsers(a);
  await until('A\'s WebSocket to close', () => websocketsOpen(c.instances), ([one, two]) => one === 0 && two === 0);

  const toOneBefore = c.balancer.connections(1);
  const reader = await person(c, url, 'C', { via: 2 });
  await waitForValue(reader, text, { name: 'C' });
  await waitForServerSaved(reader, { name: 'C' });
  assert.equal((await status(reader)).peers, '0', 'C met someone: the notebook should come from the store');
  assert.equal(c.balancer.connections(1), toOneBefore, 'something of C\'s went through instance 1');
  assertNoPageErrors(reader);
});

// ---- 3. an instance killed under two people -------------------------------------------------------

test('instance 1 is killed while A (through 1) and B (through 2) co-edit: both go on, B\'s work is saved, and A reloaded through 2 meets B again', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (skipWithoutRedis(t)) return;
  const c = await cluster(t);
  const [one] = c.instances;
  const url = keyedRoomUrl(c.balancer, newRoomName('scale-kill'), newRoomKey());
  const a = await person(c, url, 'A', { via: 1 });
  const b = await person(c, url, 'B', { via: 2 });
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  let expected = 'A before. ';
  await typeText(a, expected, { at: 0 });
  await waitForValue(b, expected, { name: 'B' });
  expected += 'B before. ';
  await typeText(b, 'B before. ', { at: 'end' });
  await waitForValue(a, expected, { name: 'A' });
  await Promise.all([recordStatus(a), recordStatus(b)]);

  // Both type at once (A at the start, B at the end), and instance 1 dies in the middle of it.
  // New connections go to instance 1 until then; then the balancer takes it out, as a load
  // balancer whose health check failed, and sends them to instance 2.
  c.balancer.route(1);
  const typing = Promise.all([typeText(a, 'A during. ', { at: 0, delay: 40 }), typeText(b, 'B during. ', { at: 'end', delay: 40 })]);
  await until('A and B to be typing (each to see some of the other\'s)', () => Promise.all([editorValue(a), editorValue(b)]),
    ([va, vb]) => va.includes('B du') && vb.startsWith('A du'));
  const killedAt = Date.now();
  await one.kill();
  c.balancer.route(2);
  await typing;
  expected = `A during. ${expected}B during. `;
  await waitForConvergence([a, b], { until: (v) => v === expected });

  // The pair's data channel is theirs, not the server's: B's typing reaches A at once, and A's
  // reaches B, while A's signaling is cut.
  expected += 'B after the kill. ';
  await typeText(b, 'B after the kill. ', { at: 'end' });
  await waitForValue(a, expected, { name: 'A (instance 1 killed)' });
  expected += 'A after the kill. ';
  await typeText(a, 'A after the kill. ', { at: 'end' });
  await waitForValue(b, expected, { name: 'B (instance 1 killed)' });

  // A's WebSocket went down with instance 1 and came back through instance 2.
  await until('A\'s signaling WebSocket to reconnect through instance 2', () => c.balancer.describe(),
    (now) => now[1].openSignals === 0 && now[2].openSignals === 2, { timeout: RECONNECT_TIMEOUT_MS });
  await waitForSignalingState(a, 'online', { name: 'A', timeout: RECONNECT_TIMEOUT_MS, why: 'it reconnects through instance 2' });
  await until('instance 2 to hold both WebSockets, by its own count', () => metric(c.instances[1], 'commonplace_websockets_open'),
    (open) => open === 2);
  const [logA, logB] = await Promise.all([statusLog(a), statusLog(b)]);
  assert.ok(logA.some((e) => e.t >= killedAt && e.signaling !== 'online'),
    `A's signaling never showed the cut: ${JSON.stringify(logA.map((e) => e.signaling))}`);
  assert.deepEqual([...new Set(logB.map((e) => e.signaling))], ['online'], 'B\'s signaling (on instance 2) was disturbed by instance 1\'s death');
  for (const [name, log] of [['A', logA], ['B', logB]]) {
    assert.deepEqual([...new Set(log.map((e) => e.peers))], ['1'], `[${name}] lost its peer when instance 1 died`);
  }

  // B's work (and A's) is in the server copy, through instance 2: someone reading the store
  // alone gets it.
  await Promise.all([waitForServerSaved(b, { name: 'B', timeout: STORE_RESUME_TIMEOUT_MS }),
    waitForServerSaved(a, { name: 'A', timeout: STORE_RESUME_TIMEOUT_MS })]);
  const reader = await storeReader(c, url, 'C (store only)');
  await waitForValue(reader, expected, { name: 'C (store only)' });

  // A reloads, through instance 2 (the only one left): it finds the room, and the two co-edit.
  await a.reload({ waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(a, { name: 'A reloaded' });
  await waitForSignalingState(a, 'online', { name: 'A reloaded' });
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  await waitForValue(a, expected, { name: 'A reloaded' });
  await Promise.all([typeText(a, 'A again. ', { at: 0, delay: 10 }), typeText(b, 'B again.', { at: 'end', delay: 10 })]);
  const final = await waitForConvergence([a, b], { until: (v) => v.length === expected.length + 'A again. B again.'.length });
  assert.equal(final, `A again. ${expected}B again.`);
  assert.equal(c.balancer.openSignals(2), 2, 'both WebSockets should be on instance 2');
  assertNoPageErrors(a, b, reader);
});

// ---- 4. Redis restarted under load ----------------------------------------------------------------

/**
 * Types words `<prefix>000 `, `<prefix>001 `, … with real key events at the caret until
 * `stop.done`; resolves to how many it typed.
 */
async function typeWords(page, prefix, stop) {
  let n = 0;
  while (!stop.done) {
    if (n === 1000) throw new Error(`[${prefix}] still typing after 1000 words`);
    await page.keyboard.type(`${prefix}${String(n).padStart(3, '0')} `, { delay: 20 });
    n++;
  }
  return n;
}

/** The whole words `<prefix>NNN ` in `text`. */
function wordsOf(text, prefix) {
  return text.match(new RegExp(`${prefix}\\d{3} `, 'g')) ?? [];
}

/**
 * A's own words in the text it showed the last time its server copy turned "yes" (at or
 * before `t`, if given): words it typed itself that the store had acknowledged.
 */
async function acknowledgedWords(page, prefix, { before = Infinity } = {}) {
  const acks = (await statusLog(page)).filter((e) => e.saved === 'yes' && e.t <= before);
  return acks.length ? wordsOf(acks[acks.length - 1].text, prefix) : [];
}

test('Redis is killed and restarted while A (through 1) and B (through 2) type: nothing acknowledged is lost, everything arrives, and a newcomer meets both', { timeout: 240_000 }, async (t) => {
  if (skipWithoutRedis(t)) return;
  const c = await cluster(t);
  const url = keyedRoomUrl(c.balancer, newRoomName('scale-redis'), newRoomKey());
  const a = await person(c, url, 'A', { via: 1 });
  const b = await person(c, url, 'B', { via: 2 });
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  // A types on the first line, B on the second: their words never interleave.
  await typeText(a, 'A: ', { at: 0 });
  await waitForValue(b, 'A: ', { name: 'B' });
  await typeText(b, '\nB: ', { at: 'end' });
  await waitForValue(a, 'A: \nB: ', { name: 'A' });
  await Promise.all([recordStatus(a), recordStatus(b), setCaret(a, 3), setCaret(b, 'end')]);

  const stop = { done: false };
  const typing = [typeWords(a, 'a', stop), typeWords(b, 'b', stop)];
  let acked;
  let restartedAt;
  try {
    // Once each has had a few words acknowledged, Redis dies in the middle of their typing.
    await until('A and B to have a few words each saved to the server', () => Promise.all([acknowledgedWords(a, 'a'), acknowledgedWords(b, 'b')]),
      ([wa, wb]) => wa.length >= 3 && wb.length >= 3, { timeout: 30_000 });
    const killedAt = Date.now();
    await c.redis.kill();
    acked = [...await acknowledgedWords(a, 'a', { before: killedAt }), ...await acknowledgedWords(b, 'b', { before: killedAt })];
    await until('both instances to report Redis lost (/healthz 503)', () => Promise.all(c.instances.map(healthz)),
      (codes) => codes.every((code) => code === 503), { timeout: 15_000 });
    // Both go on typing meanwhile; Redis comes back on the same port, from its append-only file.
    await c.redis.restart();
    restartedAt = Date.now();
    await until('both instances to serve Redis again (/healthz 200)', () => Promise.all(c.instances.map(healthz)),
      (codes) => codes.every((code) => code === 200), { timeout: 20_000 });

    // What the store acknowledged before the kill is there for someone reading it alone.
    const early = await storeReader(c, url, 'C (store only, just after the restart)');
    const stored = await editorValue(early);
    const lost = acked.filter((w) => !stored.includes(w));
    assert.deepEqual(lost, [], `words acknowledged as saved before Redis was killed are not in the store after its restart (${acked.length} were acknowledged); the store reads ${JSON.stringify(stored)}`);
    await closeUsers(early);

    // Saving resumes under load: each has words acknowledged again since the restart.
    await until('A and B to have words saved to the server again after the restart',
      () => Promise.all([statusLog(a), statusLog(b)]),
      (logs) => logs.every((log) => log.some((e) => e.saved === 'yes' && e.t > restartedAt)), { timeout: STORE_RESUME_TIMEOUT_MS });
  } finally {
    stop.done = true;
    await Promise.allSettled(typing);
  }
  const [na, nb] = await Promise.all(typing);
  const last = (p, n) => `${p}${String(n - 1).padStart(3, '0')} `;
  const final = await waitForConvergence([a, b], { until: (v) => v.includes(last('a', na)) && v.includes(last('b', nb)), timeout: 20_000 });
  assert.equal(final, `A: ${wordsOf(final, 'a').join('')}\nB: ${wordsOf(final, 'b').join('')}`);
  assert.equal(wordsOf(final, 'a').length, na, 'A\'s words are not all there');
  assert.equal(wordsOf(final, 'b').length, nb, 'B\'s words are not all there');

  // The pair stayed connected and on signaling throughout (the instances kept their WebSockets).
  for (const [name, page] of [['A', a], ['B', b]]) {
    const log = await statusLog(page);
    assert.deepEqual([...new Set(log.map((e) => e.signaling))], ['online'], `[${name}] signaling was disturbed by Redis's restart`);
    assert.deepEqual([...new Set(log.map((e) => e.peers))], ['1'], `[${name}] lost its peer while Redis was down`);
  }

  // Eventually everything is in the store.
  await Promise.all([waitForServerSaved(a, { name: 'A', timeout: STORE_RESUME_TIMEOUT_MS }),
    waitForServerSaved(b, { name: 'B', timeout: STORE_RESUME_TIMEOUT_MS })]);
  const late = await storeReader(c, url, 'C (store only, at the end)');
  await waitForValue(late, final, { name: 'C (store only, at the end)' });

  // Signaling across instances resumed: D, through instance 1, meets A there and B on instance 2.
  const d = await person(c, url, 'D', { via: 1 });
  await Promise.all([waitForPeers(d, 2), waitForPeers(a, 2), waitForPeers(b, 2)]);
  await waitForValue(d, final, { name: 'D' });
  await typeText(d, 'D.', { at: 'end' });
  await Promise.all([waitForValue(a, `${final}D.`, { name: 'A' }), waitForValue(b, `${final}D.`, { name: 'B' })]);
  assertNoPageErrors(a, b, d, late);
});
