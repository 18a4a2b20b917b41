// The server relay: two Commonplace browsers that cannot open a data channel (each one's
// RTCPeerConnection is restricted to relay candidates with no TURN server, so ICE has none at
// all, as between two symmetric NATs without TURN: onlyRelayCandidates) talk through the
// signaling server after RELAY_AFTER_MS (5 s): the same frames, as `relay` publishes addressed
// to one peer. The people list says "server relay" (data-path="relay"), the status line "via the server".
// In a keyed room the server sees only ciphertext; a large late join crosses in chunks.
// Real networks that force this are in nat_lab.test.mjs.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, openPerson, newRoomName, newRoomKey, roomUrl, keyedRoomUrl, waitForPeers, typeText,
  waitForValue, assertNoPageErrors, status, signalingSpy, decryptSignal, waitForPath, editorValue, onlyRelayCandidates, closeUsers, openYjsPeer, browser, yjsWebrtcBundle,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 120_000;
/** The relay starts 5 s after a connection that does not open; PBKDF2 and a loaded machine add more. */
const RELAY_TIMEOUT_MS = 30_000;

// What crosses the relay is the point here: no server copy to hand the notebook over instead.
setUpFile({ serverArgs: ['--no-store'], prepare: yjsWebrtcBundle });

async function openBlocked(t, url, name, options = {}) {
  return openPerson(t, url, name, { setup: onlyRelayCandidates, ...options });
}

test('two browsers with no direct path co-edit through the server, and see that they do', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = roomUrl(server, newRoomName('relay'));
  const a = await openBlocked(t, url, 'A');
  const b = await openBlocked(t, url, 'B');
  await Promise.all([waitForPeers(a, 1, { timeout: RELAY_TIMEOUT_MS }), waitForPeers(b, 1, { timeout: RELAY_TIMEOUT_MS })]);

  await typeText(a, 'Written on one network. ');
  await waitForValue(b, 'Written on one network. ', { name: 'B' });
  await typeText(b, 'Read on another.', { at: 'end' });
  await waitForValue(a, 'Written on one network. Read on another.', { name: 'A' });

  for (const [page, name] of [[a, 'A'], [b, 'B']]) {
    const [seen] = await waitForPath(page, 'relay', { name, timeout: RELAY_TIMEOUT_MS });
    assert.match(seen.text, /^server relay/, `[${name}] the person's path reads ${JSON.stringify(seen.text)}`);
    const st = await status(page);
    assert.match(st.text, /1 via the server/, `[${name}] #status says ${JSON.stringify(st.text)}`);
  }
  assertNoPageErrors(a, b);

  // No connection closes when B goes: its goodbye through the server tells A at once (silence
  // would take 45 s).
  await closeUsers(b);
  await waitForPeers(a, 0, { timeout: 10_000 });
});

test('in a keyed room the server relays only ciphertext, and a 300 KB notebook reaches a late joiner in chunks', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('relay-keyed');
  const key = newRoomKey();
  const url = keyedRoomUrl(server, room, key);
  const spy = await signalingSpy(server, [room]);
  t.after(() => spy.close());

  const a = await openBlocked(t, url, 'A', { ready: true });
  // 300 KB of text no frame may show in clear: distinct lines, so a chunk of it is recognisable.
  const lines = Array.from({ length: 7000 }, (_, i) => `secret line ${String(i).padStart(4, '0')} of the relayed notebook`);
  const text = lines.join('\n').slice(0, 300_000);
  await a.evaluate((value) => {
    const editor = document.querySelector('#editor');
    editor.focus();
    editor.value = value;
    editor.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));
  }, text);
  await waitForValue(a, text, { name: 'A' });

  const b = await openBlocked(t, url, 'B');
  await waitForValue(b, text, { name: 'B (late, relayed)', timeout: RELAY_TIMEOUT_MS + 30_000 });
  await waitForPath(b, 'relay', { name: 'B', timeout: RELAY_TIMEOUT_MS });
  await typeText(b, 'and a reply. ', { at: 0 });
  await waitForValue(a, `and a reply. ${text}`, { name: 'A', timeout: RELAY_TIMEOUT_MS });

  // Every publish's data is an encrypted string; opened with the key, the relay frames are there.
  const publishes = spy.frames.filter((f) => f.type === 'publish');
  const clear = spy.raw.filter((raw) => raw.includes('secret line') || raw.includes('"relay"') || raw.includes('a reply'));
  assert.equal(clear.length, 0, `the server saw ${clear.length} frames in clear, e.g. ${clear[0]?.slice(0, 200)}`);
  let relayed = 0;
  let relayedBytes = 0;
  for (const frame of publishes) {
    assert.equal(typeof frame.data, 'string', `a publish's data is not ciphertext: ${JSON.stringify(frame).slice(0, 200)}`);
    const signal = await decryptSignal(frame.data, key, room);
    if (signal.type === 'relay') {
      relayed += 1;
      relayedBytes += signal.frame.length;
    }
    assert.ok(frame.data.length < 256 * 1024, `a relayed publish of ${frame.data.length} bytes is over the server's frame limit`);
  }
  // 300 KB in 64 KiB chunks: at least five relayed frames carried it (no vacuous pass).
  assert.ok(relayed >= 5 && relayedBytes > 300_000, `only ${relayed} relay publishes (${relayedBytes} bytes of base64) were seen`);
  assertNoPageErrors(a, b);
});

test('an unkeyed room relays in clear, as y-webrtc publishes everything there, addressed to one peer', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('relay-open');
  const spy = await signalingSpy(server, [room]);
  t.after(() => spy.close());
  const url = roomUrl(server, room);
  // A stock y-webrtc peer in the room sees the relay publishes and must ignore them.
  const yjs = await openYjsPeer(browser, server, room);
  t.after(() => yjs.close());
  const a = await openBlocked(t, url, 'A');
  const b = await openBlocked(t, url, 'B');
  await waitForPeers(b, 1, { timeout: RELAY_TIMEOUT_MS });
  await typeText(a, 'open room');
  await waitForValue(b, 'open room', { name: 'B' });
  assert.equal(await yjs.text(), '', 'the Yjs peer took something from a relayed frame');
  const signaling = await yjs.page.evaluate(() => window.__yjs.provider.signalingConns.map((c) => c.connected));
  assert.deepEqual(signaling, [true], 'the Yjs peer lost its signaling connection');
  assertNoPageErrors(yjs.page);
  const relays = spy.frames.filter((f) => f.type === 'publish' && f.data?.type === 'relay');
  assert.ok(relays.length > 0, 'no relay publish was seen');
  for (const { data } of relays) {
    assert.ok(typeof data.from === 'string' && typeof data.to === 'string' && data.from !== data.to,
      `a relay publish is not addressed from one peer to another: ${JSON.stringify(data).slice(0, 200)}`);
  }
  assert.equal(await editorValue(a), 'open room');
});
