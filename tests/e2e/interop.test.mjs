// Interoperability with stock Yjs + y-webrtc (the npm packages, bundled for the browser by esbuild
// at test time): a y-webrtc peer in a page of the server's origin, configured as any y-webrtc app
// would be (`new WebrtcProvider(room, doc, { signaling, password, peerOpts })`), co-edits the root
// Y.Text `page` with Commonplace in both directions, concurrently and as a late joiner. Every case
// runs in an unkeyed room (`#room=NAME`) and in a keyed one (`#room=NAME&key=SECRET`, where the
// y-webrtc peer's `password` is the SECRET).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, browser, openPerson, newRoomName, newRoomKey, keyedRoomUrl, waitForPeers,
  typeText, editorValue, waitForValue, assertNoPageErrors, openYjsPeer, yjsWebrtcBundle, fillEditor,
  editorDigest, notebookText, withTimeout, sleep,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 60_000;
/** Connecting includes the key derivation (PBKDF2, 100k iterations) on both sides in keyed rooms. */
const CONNECT_TIMEOUT_MS = 20_000;

setUpFile({ prepare: yjsWebrtcBundle });

const VARIANTS = [
  { label: 'unkeyed room', key: () => undefined },
  { label: 'keyed room', key: newRoomKey },
];

/** Fresh room (and key) for one test; everything opened is closed after it. */
function freshRoom(t, variant) {
  const room = newRoomName('interop');
  const key = variant.key();
  const url = keyedRoomUrl(server, room, key);
  return {
    room,
    key,
    url,
    commonplace: (name) => openPerson(t, url, name),
    async yjs(name) {
      const peer = await openYjsPeer(browser, server, room, { key, name });
      t.after(() => peer.close());
      return peer;
    },
  };
}

/** A (Commonplace) and Y (y-webrtc) connected to each other. */
async function pair(r) {
  const a = await r.commonplace('A');
  const y = await r.yjs('Y');
  await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), y.waitForPeers(1, { timeout: CONNECT_TIMEOUT_MS })]);
  return { a, y };
}

for (const variant of VARIANTS) {
  test(`[${variant.label}] what Commonplace types reaches the Yjs peer, and what the Yjs peer inserts shows in #editor`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const r = freshRoom(t, variant);
    const { a, y } = await pair(r);

    const typed = 'Typed in Commonplace: héllo 日本 🎉';
    await typeText(a, typed);
    await y.waitForText(typed);

    await y.insert(' · from Yjs ✓');
    await y.insert('>> ', 0);
    const both = `>> ${typed} · from Yjs ✓`;
    await waitForValue(a, both, { name: 'A' });

    // A deletion made in Yjs reaches the textarea as well (the 🎉 is two UTF-16 units).
    await y.page.evaluate(() => {
      const text = window.__yjs.text;
      const at = text.toString().indexOf('🎉');
      text.delete(at, '🎉'.length);
    });
    await waitForValue(a, both.replace('🎉', ''), { name: 'A' });
    assertNoPageErrors(a);
  });

  test(`[${variant.label}] concurrent edits from Commonplace and the Yjs peer converge`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const r = freshRoom(t, variant);
    const { a, y } = await pair(r);
    await typeText(a, 'base');
    await y.waitForText('base');

    const fromA = 'abcdefghijklmnopqrst';
    const fromY = '01234567890123456789';
    await Promise.all([
      typeText(a, fromA, { at: 'end', delay: 15 }),
      // One character every ~15 ms at the start of the text, each in its own transaction.
      y.page.evaluate((chars) => new Promise((resolve) => {
        let i = 0;
        const step = () => {
          if (i === chars.length) return resolve();
          window.__yjs.text.insert(i, chars[i]);
          i += 1;
          setTimeout(step, 15);
        };
        step();
      }), fromY),
    ]);

    const expected = fromY + 'base' + fromA;
    const deadline = Date.now() + 15_000;
    let seen;
    for (;;) {
      seen = { a: await editorValue(a), y: await y.text() };
      if (seen.a === seen.y && seen.a.length === expected.length) break;
      if (Date.now() > deadline) assert.fail(`Commonplace and the Yjs peer did not converge within 15 s: ${JSON.stringify(seen)}`);
      await sleep(50);
    }
    // Each side's insertions kept their order and place.
    assert.equal(seen.a, expected);
    assertNoPageErrors(a);
  });

  test(`[${variant.label}] a Yjs peer that joins late gets everything Commonplace typed`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const r = freshRoom(t, variant);
    const a = await r.commonplace('A');
    const typed = 'Written before anyone else came.\nSecond line — ünïcødé.';
    await typeText(a, typed);
    assert.equal(await editorValue(a), typed);

    const y = await r.yjs('Y late');
    await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), y.waitForPeers(1, { timeout: CONNECT_TIMEOUT_MS })]);
    await y.waitForText(typed);

    // And it is a full participant afterwards.
    await y.insert('!');
    await waitForValue(a, `${typed}!`, { name: 'A' });
    assertNoPageErrors(a);
  });

  test(`[${variant.label}] Commonplace joining late gets everything the Yjs peer wrote`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const r = freshRoom(t, variant);
    const y = await r.yjs('Y');
    const written = 'Yjs was here first. 👩‍👩‍👧\n';
    await y.insert(written);
    await y.insert('Line two.');
    const expected = `${written}Line two.`;

    const a = await r.commonplace('A late');
    await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), y.waitForPeers(1, { timeout: CONNECT_TIMEOUT_MS })]);
    await waitForValue(a, expected, { name: 'A late' });

    await typeText(a, ' And A.', { at: 'end' });
    await y.waitForText(`${expected} And A.`);
    assertNoPageErrors(a);
  });

  // Frames over 64 KiB travel chunked between Commonplace peers only; a y-webrtc peer must get
  // them whole (Chromium takes data channel messages up to 256 KiB, so ~170 kB of UTF-8 fits).
  test(`[${variant.label}] a notebook past the chunk size crosses whole, both ways`, { timeout: TEST_TIMEOUT_MS }, async (t) => {
    const UNITS = 150_000;
    const r = freshRoom(t, variant);
    const a = await r.commonplace('A');
    await fillEditor(a, UNITS, { name: 'A' });
    const want = await editorDigest(a);

    const y = await r.yjs('Y late');
    await Promise.all([waitForPeers(a, 1, { timeout: CONNECT_TIMEOUT_MS }), y.waitForPeers(1, { timeout: CONNECT_TIMEOUT_MS })]);
    const yDigest = () => withTimeout(y.digest(), 10_000, '[Y] hashing');
    try {
      await y.page.waitForFunction((n) => window.__yjs.text.length === n, UNITS, { timeout: 20_000, polling: 50 });
    } catch {
      assert.fail(`the Yjs peer did not receive A's ${UNITS}-unit notebook within 20 s: it has ${(await yDigest()).length} units`);
    }
    assert.deepEqual(await yDigest(), want, 'the Yjs peer\'s text differs from A\'s');

    // And a big insertion made in Yjs reaches a Commonplace peer that joins late.
    const more = await y.page.evaluate(({ src, n }) => {
      const chunk = (0, eval)(`(${src})`)(n, 7);
      window.__yjs.text.insert(0, chunk);
      return chunk.length;
    }, { src: notebookText.toString(), n: UNITS });
    try {
      await a.waitForFunction((n) => document.querySelector('#editor').value.length === n, UNITS + more, { timeout: 20_000, polling: 50 });
    } catch {
      assert.fail(`A did not receive the Yjs peer's ${more}-unit insertion within 20 s`);
    }
    assert.deepEqual(await editorDigest(a), await yDigest(), 'A\'s text differs from the Yjs peer\'s');
    const b = await r.commonplace('B late');
    await waitForPeers(b, 2, { timeout: CONNECT_TIMEOUT_MS });
    try {
      await b.waitForFunction((n) => document.querySelector('#editor').value.length === n, UNITS + more, { timeout: 20_000, polling: 50 });
    } catch {
      assert.fail(`B did not receive the ${UNITS + more}-unit notebook within 20 s`);
    }
    assert.deepEqual(await editorDigest(b), await yDigest(), 'B\'s text differs from the Yjs peer\'s');
    assertNoPageErrors(a, b);
  });
}

// Schema v1 (docs/schema.md) as a Yjs app sees it: pages, titles, order and bodies written by
// Commonplace are readable with plain Yjs calls, and a page a Yjs app adds shows in Commonplace.
test('[unkeyed room] a Yjs app reads Commonplace\'s pages and adds one of its own', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const r = freshRoom(t, VARIANTS[0]);
  const { a, y } = await pair(r);
  await typeText(a, 'home text');
  await a.click('#new-page');
  await a.fill('.page-title-input', 'Recipes');
  await a.press('.page-title-input', 'Enter');
  await a.waitForFunction(() => document.querySelector('#page-title')?.textContent === 'Recipes');
  await typeText(a, 'flour 🍞');
  await a.click('li.page-item[data-page="home"] .rename-page');
  await a.fill('.page-title-input', 'Start');
  await a.press('.page-title-input', 'Enter');

  const read = () => y.page.evaluate(() => {
    const { Y, doc } = window.__yjs;
    const pages = [...doc.getMap('pages').entries()]
      .filter(([id, p]) => id !== 'home' && p.get('body') instanceof Y.Text)
      .map(([id, p]) => ({ id, title: p.get('title'), order: p.get('order'), body: p.get('body').toString() }));
    return { home: doc.getText('page').toString(), homeTitle: doc.getMap('home').get('title'), pages };
  });
  const want = { home: 'home text', homeTitle: 'Start', pages: [{ title: 'Recipes', body: 'flour 🍞' }] };
  let seen;
  for (let i = 0; i < 100; i++) {
    seen = await read();
    if (seen.home === want.home && seen.homeTitle === want.homeTitle && seen.pages.length === 1
      && seen.pages[0].title === 'Recipes' && seen.pages[0].body === 'flour 🍞') break;
    await a.waitForTimeout(50);
  }
  assert.equal(seen.home, want.home);
  assert.equal(seen.homeTitle, want.homeTitle);
  assert.deepEqual(seen.pages.map(({ title, body }) => ({ title, body })), want.pages);
  assert.equal(typeof seen.pages[0].order, 'number');

  // The Yjs app adds a page the way docs/schema.md says; Commonplace lists and opens it.
  await y.page.evaluate(() => {
    const { Y, doc } = window.__yjs;
    doc.transact(() => {
      const page = new Y.Map();
      doc.getMap('pages').set('fromyjs00001', page);
      page.set('title', 'From Yjs');
      page.set('order', 99);
      page.set('body', new Y.Text('written by a **Yjs** app'));
    });
  });
  const item = 'li.page-item[data-page="fromyjs00001"] .page-link';
  await a.waitForSelector(item, { timeout: 10_000 });
  assert.equal(await a.textContent(item), 'From Yjs');
  await a.click(item);
  await waitForValue(a, 'written by a **Yjs** app', { name: 'A' });
  await a.waitForSelector('#preview strong', { timeout: 5_000 });
  assertNoPageErrors(a);
});
