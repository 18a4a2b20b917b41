// Joining a room while the app still loads (and, last, two people joining at once): index.html's
// head start subscribes and announces the newcomer (encrypted as y-webrtc's announce is, with the
// key it derived), so the peers already in the room offer a connection before the wasm has run;
// the app then goes on with that peer id and answers what it was sent meanwhile.
//
// The newcomer's wasm is held back by the test until the offer has been seen on the signaling
// server (by a spy subscribed to the room), so "before the app ran" is not a race.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, browser, openPerson, newRoomName, newRoomKey, keyedRoomUrl, waitForReady,
  waitForPeers, typeText, waitForValue, assertNoPageErrors, signalingSpy, decryptSignal, watchPage,
  waitFor, sleep, waitForPath, closeUsers, until, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 60_000;
const SEEN_TIMEOUT_MS = 15_000;

setUpFile();

/** The room's publishes the spy has seen so far, decrypted (null where one does not decrypt). */
async function decrypted(spy, room, key) {
  const publishes = spy.frames.filter((f) => f.type === 'publish' && f.topic === room);
  return Promise.all(publishes.map((f) => decryptSignal(f.data, key, room).catch(() => null)));
}

/** Polls the spy until `find` returns something from the decrypted publishes. */
async function seen(spy, room, key, what, find) {
  const deadline = Date.now() + SEEN_TIMEOUT_MS;
  while (Date.now() < deadline) {
    const found = find(await decrypted(spy, room, key));
    if (found) return found;
    await sleep(20);
  }
  const types = (await decrypted(spy, room, key)).map((m) => `${m?.type}:${m?.signal?.type ?? ''}:${m?.from}`);
  assert.fail(`the spy did not see ${what} within ${SEEN_TIMEOUT_MS} ms; it saw ${types.join(', ')}`);
}

test('the peers in a room offer to a newcomer while its app is still loading', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('early');
  const key = newRoomKey();
  const spy = await signalingSpy(server, [room]);
  t.after(() => spy.close());
  const url = keyedRoomUrl(server, room, key);

  const a = await openPerson(t, url, 'A');
  await waitForReady(a, { name: 'A' });
  const text = 'written before B came';
  await typeText(a, text);
  const aId = (await seen(spy, room, key, "A's announce", (ms) => ms.find((m) => m?.type === 'announce')))?.from;

  // B's browser loads the page, but not the app's wasm, until the test lets it.
  const context = await browser.newContext({ serviceWorkers: 'block' });
  t.after(() => context.close().catch(() => {}));
  let release;
  const held = new Promise((resolve) => { release = resolve; });
  await context.route('**/*.wasm', async (route) => {
    await held;
    await route.continue();
  });
  const b = watchPage(await context.newPage(), { name: 'B' });
  await b.goto(url, { waitUntil: 'commit', timeout: APP_LOAD_TIMEOUT_MS });

  const bId = (await seen(spy, room, key, "B's announce", (ms) => ms.find((m) => m?.type === 'announce' && m.from !== aId)))?.from;
  await seen(spy, room, key, "A's offer to B", (ms) => ms.find((m) => m?.type === 'signal' && m.from === aId && m.to === bId && m.signal?.type === 'offer'));
  const started = await b.evaluate(() => performance.getEntriesByName('commonplace:start').length);
  assert.equal(started, 0, "B's app ran before its wasm was let through: the test held nothing back");

  release();
  await waitFor(b.waitForSelector('#editor', { state: 'attached', timeout: APP_LOAD_TIMEOUT_MS }), '[B] the app did not render');
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  await waitForValue(b, text, { name: 'B' });

  // The app took over the announced peer id: B answered as it, and announced no other.
  const messages = await decrypted(spy, room, key);
  const answer = messages.find((m) => m?.type === 'signal' && m.to === aId && m.signal?.type === 'answer');
  assert.equal(answer?.from, bId, `B answered as ${answer?.from}, not as the peer its head start announced (${bId})`);
  const announcers = new Set(messages.filter((m) => m?.type === 'announce').map((m) => m.from));
  assert.deepEqual([...announcers].sort(), [aId, bId].sort(), 'B announced itself under a second peer id');
  await typeText(b, ' / B is in', { at: 'end' });
  await waitForValue(a, `${text} / B is in`, { name: 'A' });
  assertNoPageErrors(a, b);
});

// Two people opening the link at the same moment hear each other's announce at once and both
// offer (glare). The side whose offer loses answers on a new connection; answering by rolling
// its own offer back left Chromium's ICE gathering stalled in about 1 pair in 15 (no candidate
// ever: the pair ended on the server relay), and an offer still being made could win on the
// other side too (both answered). Ten pairs in a row must each meet directly.
test('two people opening the link at the same moment meet directly, ten pairs in a row', { timeout: 180_000 }, async (t) => {
  const PAIRS = 10;
  for (let i = 0; i < PAIRS; i++) {
    const url = keyedRoomUrl(server, newRoomName('glare'), newRoomKey());
    const [a, b] = await Promise.all([openPerson(t, url, `A${i}`), openPerson(t, url, `B${i}`)]);
    for (const [name, page] of [[`A${i}`, a], [`B${i}`, b]]) {
      // Not the server relay (after 5 s without a channel): a data channel, within 15 s.
      await waitForPath(page, 'direct', { name, timeout: 15_000 });
    }
    await typeText(a, `pair ${i}`);
    await waitForValue(b, `pair ${i}`, { name: `B${i}` });
    assertNoPageErrors(a, b);
    await closeUsers(a, b);
  }
});

/** How many times the page asked the server for `/config` (its fetches are resource entries). */
function configRequests(page) {
  return page.evaluate(() => performance.getEntriesByType('resource')
    .filter((entry) => new URL(entry.name).pathname === '/config').length);
}

// The server writes its /config answer into the page it serves, so the app knows how to reach
// peers the moment it starts and asks nothing more. A page kept from long ago (the service
// worker's offline copy) carries an old answer: the app uses it and asks for a fresh one.
test('the page brings the ICE configuration; an old copy of the page asks for a fresh one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = keyedRoomUrl(server, newRoomName('config'), newRoomKey());
  const a = await openPerson(t, url, 'A', { ready: true });
  // The page as it was served, its config made long ago (rewritten as the parser inserts it,
  // before the head start runs: a routed, rewritten document would lose its loopback origin).
  const oldPage = (context) => context.addInitScript(() => {
    const observer = new MutationObserver(() => {
      const element = document.getElementById('commonplace-config');
      if (!element?.textContent) return;
      window.__configWas = element.textContent;
      element.textContent = element.textContent.replace(/"servedAt":\d+/, '"servedAt":1');
      observer.disconnect();
    });
    observer.observe(document, { childList: true, subtree: true, characterData: true });
  });
  const b = await openPerson(t, url, 'B', { setup: oldPage });
  assert.match(await b.evaluate(() => window.__configWas), /^\{"servedAt":\d+,"config":\{/, 'the served page carries no config');
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  await typeText(a, 'reached');
  await waitForValue(b, 'reached', { name: 'B' });
  assert.equal(await configRequests(a), 0, 'A asked for /config though its page brought it');
  await until('B, with an old page, asking for a fresh /config once', () => configRequests(b), (n) => n === 1);
  assertNoPageErrors(a, b);
});
