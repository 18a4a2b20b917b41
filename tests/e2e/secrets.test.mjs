// Room secrets: links `<origin>/#room=NAME&key=SECRET`. With a key, everything that goes through
// the signaling server or the BroadcastChannel is encrypted as y-webrtc's `password` option does
// (PBKDF2-SHA256, 100k iterations, salt = room name → AES-GCM-256; a signaling publish's `data` is
// then a base64 string). Whoever has the right key syncs; a wrong key or no key connects to nobody,
// gets none of the notebook, and is told so: #decrypt-error (role="alert", "cannot decrypt: check
// the link") and #status[data-decrypt-error="true"].
//
// What the server sees is captured by our own signaling client subscribed to the room's topic (the
// server relays every publish to every subscriber), and decrypted here with y-webrtc's scheme.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, openPerson, newRoomName, newRoomKey, roomUrl, keyedRoomUrl, waitForPeers, typeText,
  editorValue, waitForValue, assertNoPageErrors, waitFor, status, signalingSpy, decryptSignal, decryptEnvelope,
  broadcastSpy, sleep, firstLine, openTab, browser,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 60_000;
/** Joining includes PBKDF2 (100k iterations) on every keyed side. */
const CONNECT_TIMEOUT_MS = 20_000;
/** How long a locked-out page is watched for anything arriving. */
const STAYS_OUT_MS = 3_000;
const DECRYPT_ERROR_TIMEOUT_MS = 10_000;
const DECRYPT_ERROR_TEXT = 'cannot decrypt: check the link';

setUpFile();

/** The page's decrypt-error signals. */
async function decryptErrorState(page) {
  return page.evaluate(() => {
    const alert = document.querySelector('#decrypt-error');
    const box = alert?.getBoundingClientRect();
    return {
      alert: alert ? {
        role: alert.getAttribute('role'),
        text: alert.textContent,
        visible: !!box && box.width > 0 && box.height > 0 && getComputedStyle(alert).visibility !== 'hidden' && !alert.hidden,
      } : null,
      statusFlag: document.querySelector('#status')?.getAttribute('data-decrypt-error') ?? null,
    };
  });
}

async function waitForDecryptError(page, name) {
  try {
    await page.waitForFunction((want) => {
      const alert = document.querySelector('#decrypt-error');
      return !!alert && alert.textContent.includes(want)
        && document.querySelector('#status')?.getAttribute('data-decrypt-error') === 'true';
    }, DECRYPT_ERROR_TEXT, { timeout: DECRYPT_ERROR_TIMEOUT_MS, polling: 50 });
  } catch (err) {
    throw new Error(`[${name}] no #decrypt-error containing ${JSON.stringify(DECRYPT_ERROR_TEXT)} with #status[data-decrypt-error="true"] within ${DECRYPT_ERROR_TIMEOUT_MS} ms; state ${JSON.stringify(await decryptErrorState(page))}, #status ${JSON.stringify(await status(page))} (${firstLine(err)})`);
  }
  const state = await decryptErrorState(page);
  assert.equal(state.alert.role, 'alert', `[${name}] #decrypt-error has role ${JSON.stringify(state.alert.role)}, not "alert"`);
  assert.ok(state.alert.visible, `[${name}] #decrypt-error is in the page but not visible: ${JSON.stringify(state)}`);
}

/** Watches `page`'s editor for `ms`: it must keep exactly `expected`, and #status 0 peers. */
async function assertStaysOut(page, expected, name, ms = STAYS_OUT_MS) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const [value, st] = [await editorValue(page), await status(page)];
    assert.equal(value, expected, `[${name}] (wrong or no key) received text: its editor became ${JSON.stringify(value.slice(0, 200))}`);
    assert.equal(st.peers, '0', `[${name}] (wrong or no key) is connected to peers: #status ${JSON.stringify(st)}`);
    await sleep(100);
  }
}

/**
 * Everything in the captured signaling frames that would give the room away: a `data` that is an
 * object (clear JSON), SDP or ICE, a peer id, the typed text, the secret. Returns a list of
 * findings (empty = nothing leaked).
 *
 * "sdp" is three characters a base64 string can spell by chance, so inside `data` it is looked
 * for as `"sdp"` (quotes are not base64); everything else is long enough not to occur by chance.
 */
function leaks(frames, { room, forbidden }) {
  const found = [];
  for (const [i, frame] of frames.entries()) {
    if (frame.type !== 'publish' || frame.topic !== room) continue;
    const { data, ...rest } = frame;
    if (data !== null && typeof data === 'object') found.push(`frame ${i}: data is an object (${JSON.stringify(data).slice(0, 120)})`);
    const outside = JSON.stringify(rest);
    const inside = typeof data === 'string' ? data : JSON.stringify(data);
    for (const word of ['sdp', 'candidate', 'a=fingerprint', ...forbidden]) {
      if (outside.includes(word)) found.push(`frame ${i}: ${JSON.stringify(word)} outside data`);
      const needle = word === 'sdp' ? '"sdp"' : word;
      if (inside?.includes(needle)) found.push(`frame ${i}: ${JSON.stringify(word)} in data`);
    }
  }
  return found;
}

// ---- the link -------------------------------------------------------------------------------

test('a new notebook gets a room with a random key, in the address bar and in the share link', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const pages = [];
  const links = [];
  for (const name of ['A', 'B']) {
    const page = await openPerson(t, server.url, name, { shows: '#start' });
    await page.click('#new-notebook');
    pages.push(page);
    await waitFor(page.waitForFunction(() => /#room=[^&]+.*&key=[^&]+/.test(location.hash) || /#key=[^&]+.*&room=[^&]+/.test(location.hash), null, { timeout: 10_000 }),
      `[${name}] the address bar has no #room=…&key=… after opening ${server.url}: ${page.url()}`);
    await page.waitForSelector('#share-link');
    const params = new URLSearchParams(new URL(page.url()).hash.slice(1));
    const room = params.get('room');
    const key = params.get('key');
    assert.match(key, /^[A-Za-z0-9_-]{22,}$/, `[${name}] key ${JSON.stringify(key)} is not ≥22 base64url characters (≥128 bits)`);
    assert.ok(Buffer.from(key, 'base64url').length >= 16, `[${name}] key ${key} holds fewer than 128 bits`);

    const share = await page.$eval('#share-link', (el) => el.value);
    const shared = new URLSearchParams(new URL(share).hash.slice(1));
    assert.equal(new URL(share).origin, new URL(server.url).origin, `share link ${share} is not on ${server.url}`);
    assert.equal(shared.get('room'), room, `share link ${share} names another room than the address bar`);
    assert.equal(shared.get('key'), key, `share link ${share} does not carry the key ${key}`);
    links.push({ room, key, share });
  }
  assert.notEqual(links[0].room, links[1].room, 'two openings made the same room');
  assert.notEqual(links[0].key, links[1].key, 'two openings made the same key');

  // The share link is all a second person needs.
  const [a] = pages;
  const b = await openPerson(t, links[0].share, 'B via share link');
  pages.push(b);
  await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), waitForPeers(b, 1, { timeout: CONNECT_TIMEOUT_MS })]);
  await typeText(a, 'shared secretly');
  await waitForValue(b, 'shared secretly', { name: 'B via share link' });
  assertNoPageErrors(...pages);
});

// ---- the right key, and what the server sees -------------------------------------------------

test('the right key syncs, and the server sees only ciphertext (y-webrtc\'s scheme)', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('secret');
  const key = newRoomKey();
  const spy = await signalingSpy(server, [room]);
  t.after(() => spy.close());

  const url = keyedRoomUrl(server, room, key);
  const pages = [];
  for (const name of ['A', 'B']) pages.push(await openPerson(t, url, name));
  const [a, b] = pages;
  await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), waitForPeers(b, 1, { timeout: CONNECT_TIMEOUT_MS })]);
  const fromA = 'Attack at dawn — top secret 🗝';
  const fromB = ' / acknowledged by B';
  await typeText(a, fromA);
  await waitForValue(b, fromA, { name: 'B' });
  await typeText(b, fromB, { at: 'end' });
  await waitForValue(a, fromA + fromB, { name: 'A' });
  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    const st = await decryptErrorState(p);
    assert.ok(!st.alert?.visible && st.statusFlag !== 'true', `[${name}] shows a decrypt error with the right key: ${JSON.stringify(st)}`);
  }

  const publishes = spy.frames.filter((f) => f.type === 'publish' && f.topic === room);
  assert.ok(publishes.length >= 4, `the spy saw only ${publishes.length} publishes in the room: ${JSON.stringify(spy.raw)}`);

  // Every publish is y-webrtc's encrypted form and opens with the key derived from the link.
  const messages = [];
  for (const [i, frame] of publishes.entries()) {
    assert.equal(typeof frame.data, 'string', `publish ${i}'s data is a ${typeof frame.data}, not ciphertext: ${JSON.stringify(frame).slice(0, 300)}`);
    messages.push(await decryptSignal(frame.data, key, room).catch((err) => assert.fail(`publish ${i} does not decrypt with y-webrtc's scheme and the link's key: ${err.message}`)));
  }
  const peerIds = [...new Set(messages.map((m) => m?.from).filter((x) => typeof x === 'string'))];
  assert.ok(peerIds.length >= 2, `expected announces from A and B, decrypted messages: ${JSON.stringify(messages).slice(0, 500)}`);
  const types = messages.map((m) => (m.type === 'signal' ? `signal:${m.signal?.type ?? (m.signal?.candidate ? 'candidate' : '?')}` : m.type));
  for (const want of ['announce', 'signal:offer', 'signal:answer']) {
    assert.ok(types.includes(want), `no ${want} among the decrypted publishes: ${types.join(', ')}`);
  }
  const plaintext = JSON.stringify(messages);
  assert.ok(plaintext.includes('a=fingerprint') && plaintext.includes('candidate'),
    'the decrypted negotiation has no DTLS fingerprint or ICE candidate: the spy did not see it all');

  // And none of it is visible in what the server relays.
  const found = leaks(spy.frames, { room, forbidden: [...peerIds, fromA, fromB, 'Attack at dawn', key] });
  assert.deepEqual(found, [], `a keyed room leaked through the signaling server:\n${found.join('\n')}`);
  assertNoPageErrors(a, b);
});

test('control: in an unkeyed room the same capture does see the negotiation in clear', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('clear');
  const spy = await signalingSpy(server, [room]);
  t.after(() => spy.close());
  const url = roomUrl(server, room);
  const pages = [];
  for (const name of ['A', 'B']) pages.push(await openPerson(t, url, name));
  await Promise.all(pages.map((p) => waitForPeers(p, 1, { timeout: CONNECT_TIMEOUT_MS })));
  const peerIds = [...new Set(spy.frames.filter((f) => f.type === 'publish').map((f) => f.data?.from).filter(Boolean))];
  const found = leaks(spy.frames, { room, forbidden: peerIds });
  assert.ok(peerIds.length >= 2, `no peer ids in clear: ${JSON.stringify(spy.raw).slice(0, 500)}`);
  for (const word of ['data is an object', '"sdp"', '"a=fingerprint"', peerIds[0]]) {
    assert.ok(found.some((f) => f.includes(word)), `the leak check did not find ${word} in an unkeyed room's frames: ${found.join('; ')}`);
  }
});

// ---- the wrong key, no key ---------------------------------------------------------------------

for (const [label, outsiderUrl] of [
  ['a wrong key', (room) => keyedRoomUrl(server, room, newRoomKey())],
  ['no key', (room) => roomUrl(server, room)],
]) {
  test(`${label} connects to nobody, gets none of the notebook, and says "${DECRYPT_ERROR_TEXT}"`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const room = newRoomName('locked');
    const key = newRoomKey();
    const url = keyedRoomUrl(server, room, key);
    const spy = await signalingSpy(server, [room]);
    t.after(() => spy.close());

    const a = await openPerson(t, url, 'A');
    const secret = 'Only for those with the key: 42';
    await typeText(a, secret);

    const x = await openPerson(t, outsiderUrl(room), 'X (outsider)');
    // Someone with the right key joins after X, so X certainly receives frames it cannot read
    // (whatever A did before X arrived), and the room demonstrably works meanwhile.
    const c = await openPerson(t, url, 'C');
    await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), waitForPeers(c, 1, { timeout: CONNECT_TIMEOUT_MS })]);
    await waitForValue(c, secret, { name: 'C' });

    await waitForDecryptError(x, 'X');
    await assertStaysOut(x, '', 'X');

    // Nor does anything cross the other way, or later.
    await typeText(x, 'intruder text', { at: 'end' });
    await typeText(a, ' (more)', { at: 'end' });
    await waitForValue(c, `${secret} (more)`, { name: 'C' });
    await sleep(1_000);
    assert.equal(await editorValue(a), `${secret} (more)`, 'X\'s typing reached A');
    assert.equal(await editorValue(c), `${secret} (more)`, 'X\'s typing reached C');
    await assertStaysOut(x, 'intruder text', 'X', 1_000);
    for (const [p, name] of [[a, 'A'], [c, 'C']]) assert.equal((await status(p)).peers, '1', `[${name}] counts X as a peer: ${JSON.stringify(await status(p))}`);

    // The keyed peers never published anything X's key (or no key) could read.
    const keyedFrames = [];
    for (const frame of spy.frames.filter((f) => f.type === 'publish' && f.topic === room)) {
      if (typeof frame.data === 'string' && await decryptSignal(frame.data, key, room).then(() => true, () => false)) keyedFrames.push(frame);
    }
    assert.ok(keyedFrames.length >= 2, 'the spy saw no publishes under the room key');
    assertNoPageErrors(a, c, x);
  });
}

// ---- tabs of one browser: the BroadcastChannel -------------------------------------------------

test('tabs with the key sync over the BroadcastChannel, which carries only ciphertext; a tab with another key is left out', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('tabs');
  const key = newRoomKey();
  const context = await browser.newContext();
  t.after(() => context.close().catch(() => {}));
  const bc = await broadcastSpy(context, server, room);

  const url = keyedRoomUrl(server, room, key);
  const t1 = await openTab(context, url, { name: 'tab 1', ready: true });
  const t2 = await openTab(context, url, { name: 'tab 2', ready: true });
  const typed = 'Tab secret: never on the channel in clear ✓';
  await t1.focus('#editor');
  await t1.keyboard.insertText(typed); // one input event: the whole text in one update

  await waitForValue(t2, typed, { name: 'tab 2' });

  // A tab of the same browser with another key (it shares the browser's storage, so only what
  // happens from now on is checked).
  const t3 = await openTab(context, keyedRoomUrl(server, room, newRoomKey()), { name: 'tab 3 (wrong key)', ready: true });
  const t3Before = await editorValue(t3);
  await typeText(t1, ' +later', { at: 'end' });
  await waitForValue(t2, `${typed} +later`, { name: 'tab 2' });
  await waitForDecryptError(t3, 'tab 3');
  await sleep(1_000);
  assert.equal(await editorValue(t3), t3Before, 'a tab with another key received what tab 1 typed');
  await typeText(t3, ' [tab 3]', { at: 'end' });
  await sleep(1_000);
  assert.equal(await editorValue(t1), `${typed} +later`, 'tab 3 (another key) reached tab 1');

  const messages = await bc.messages();
  assert.ok(messages.length >= 2, `the BroadcastChannel spy saw ${messages.length} messages`);
  const needle = Buffer.from('Tab secret');
  let opened = 0;
  let plainHasText = false;
  for (const [i, m] of messages.entries()) {
    assert.ok(m.bytes, `BroadcastChannel message ${i} is not binary: ${JSON.stringify(m)}`);
    const bytes = Buffer.from(m.bytes);
    assert.ok(!bytes.includes(needle), `BroadcastChannel message ${i} carries the typed text in clear`);
    const plain = await decryptEnvelope(bytes, key, room).catch(() => null);
    if (plain) {
      opened += 1;
      if (Buffer.from(plain).includes(needle)) plainHasText = true;
    } else {
      // Not under the room key: must still be an AES-GCM envelope (tab 3's, under its key).
      assert.equal(bytes.subarray(0, 8).toString('latin1'), '\x07AES-GCM', `BroadcastChannel message ${i} is neither y-webrtc ciphertext nor under the room key`);
    }
  }
  assert.ok(opened >= 1, 'no BroadcastChannel message opens with the room key');
  assert.ok(plainHasText, 'no BroadcastChannel message carried the typed text (even decrypted): the channel was not used between the tabs');
  assertNoPageErrors(t1, t2, t3);
});
