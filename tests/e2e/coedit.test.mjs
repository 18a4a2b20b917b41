// Walking skeleton, end to end: the real server, headless Chromium, one browser context per person.
// Each test uses its own room, so tests cannot see each other's text.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, openPerson, openRoom, waitForPeers, typeText, editorValue, editorSelection, setCaret,
  waitForValue, waitForConvergence, assertNoPageErrors,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;

setUpFile();

/** Pastes `text` in one input event over [from, the end) of the page's editor (at the end by default). */
async function paste(page, text, { from = null } = {}) {
  await page.$eval('#editor', (el, [text, from]) => {
    el.focus();
    el.setRangeText(text, from ?? el.value.length, el.value.length, 'end');
    el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));
  }, [text, from]);
}

test('a new notebook from the start screen puts a room in the address bar and in the share link', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const page = await openPerson(t, server.url, 'A', { shows: '#start' });
  await page.click('#new-notebook');

  await page.waitForFunction(() => /#room=[^&]+/.test(location.hash), null, { timeout: 10_000 })
    .catch(() => assert.fail(`address bar has no #room=… after opening ${server.url}: ${page.url()}`));
  await page.waitForSelector('#share-link');
  const room = page.url().match(/#room=([^&]+)/)[1];
  assert.ok(room.length >= 4, `room name ${JSON.stringify(room)} is too short to be unguessable`);

  const share = await page.$eval('#share-link', (el) => el.value);
  assert.ok(share.startsWith(new URL(server.url).origin), `share link ${share} is not on ${server.url}`);
  assert.ok(share.includes(`#room=${room}`), `share link ${share} does not name room ${room}`);
  assert.ok(await page.$('#copy-link'), 'no #copy-link button');
  assertNoPageErrors(page);
});

test('two people in one room see each other and what the other types', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { url, pages: [a, b] } = await openRoom(t, ['A', 'B']);

  const share = await b.$eval('#share-link', (el) => el.value);
  assert.equal(new URL(share).hash, new URL(url).hash, 'B\'s share link names another room');

  await typeText(a, 'hello');
  assert.equal(await editorValue(a), 'hello');
  await waitForValue(b, 'hello', { name: 'B' });
  assertNoPageErrors(a, b);
});

test('concurrent typing at both ends converges to the same text on both sides', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B']);
  await typeText(a, 'base');
  await waitForValue(b, 'base', { name: 'B' });

  const fromA = 'ABCDEFGHIJKLMNOP';
  const fromB = '0123456789012345';
  await Promise.all([
    typeText(a, fromA, { at: 0, delay: 15 }),
    typeText(b, fromB, { at: 'end', delay: 15 }),
  ]);

  const total = fromA.length + 'base'.length + fromB.length;
  const text = await waitForConvergence([a, b], { until: (v) => v.length === total, timeout: 20_000 });
  for (const ch of fromA + 'base') assert.ok(text.includes(ch), `converged text ${JSON.stringify(text)} lost ${ch}`);
  assert.equal(
    [...text].filter((c) => /[0-9]/.test(c)).join(''), fromB,
    `B's digits arrived out of order or lost in ${JSON.stringify(text)}`,
  );
  // Each person's caret followed their own typing, whatever the other inserted meanwhile.
  assert.equal(text, fromA + 'base' + fromB);
  assertNoPageErrors(a, b);
});

test('someone who joins late receives everything typed before', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { url, pages: [a, b] } = await openRoom(t, ['A', 'B']);
  await typeText(a, 'Written by A. ');
  await waitForValue(b, 'Written by A. ', { name: 'B' });
  await typeText(b, 'Then B.', { at: 'end' });
  const expected = 'Written by A. Then B.';
  await waitForValue(a, expected, { name: 'A' });

  const c = await openPerson(t, url, 'C');
  await Promise.all([waitForPeers(a, 2), waitForPeers(b, 2), waitForPeers(c, 2)]);
  await waitForValue(c, expected, { name: 'C' });

  // And C is a full participant.
  await typeText(c, '!', { at: 'end' });
  await Promise.all([waitForValue(a, `${expected}!`, { name: 'A' }), waitForValue(b, `${expected}!`, { name: 'B' })]);
  assertNoPageErrors(a, b, c);
});

test('multi-byte text round-trips, and Backspace deletes a whole emoji', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B']);
  const latin = 'héllo wörld — 日本語 ';
  const emoji = '👩‍👩‍👧 🎉';
  await typeText(a, latin);
  await a.keyboard.insertText(emoji); // one input event for the whole string, like a paste or IME
  const full = latin + emoji;
  assert.equal(await editorValue(a), full);
  await waitForValue(b, full, { name: 'B' });

  await setCaret(b, 'end');
  await b.keyboard.press('Backspace');
  const without = full.slice(0, -'🎉'.length); // 🎉 is two UTF-16 units: both must go
  assert.equal(await editorValue(b), without, 'Backspace in B did not delete exactly the 🎉');
  await waitForValue(a, without, { name: 'A' });

  // And a character typed after the emoji lands after it on both sides.
  await typeText(b, '✓', { at: 'end' });
  await waitForValue(a, `${without}✓`, { name: 'A' });
  assertNoPageErrors(a, b);
});

test('remote insertions keep the local caret on the same character', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B']);
  await typeText(a, '0123456789');
  await waitForValue(b, '0123456789', { name: 'B' });

  await setCaret(b, 5); // B's caret: 01234|56789

  await typeText(a, 'XYZ', { at: 'end' }); // after B's caret
  await waitForValue(b, '0123456789XYZ', { name: 'B' });
  assert.deepEqual(await editorSelection(b), { start: 5, end: 5 }, 'an insertion after B\'s caret moved it');

  await typeText(a, 'ab', { at: 0 }); // before B's caret
  await waitForValue(b, 'ab0123456789XYZ', { name: 'B' });
  assert.deepEqual(await editorSelection(b), { start: 7, end: 7 }, 'an insertion before B\'s caret did not shift it by 2');

  // B types where its caret is, without touching it first.
  await b.keyboard.type('|');
  await waitForValue(a, 'ab01234|56789XYZ', { name: 'A' });
  assert.equal(await editorValue(b), 'ab01234|56789XYZ');
  assertNoPageErrors(a, b);
});

test('remote edits far from the view leave the scroll position and selection where they were', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B']);
  const lines = Array.from({ length: 400 }, (_, i) => `line ${i}`).join('\n');
  await paste(a, lines, { from: 0 });
  await waitForValue(b, lines, { name: 'B' });
  // B selects part of a line in the middle and scrolls there; A edits at the top and the bottom.
  const at = lines.indexOf('line 200');
  const view = await b.$eval('#editor', (el, from) => {
    el.focus();
    el.setSelectionRange(from, from + 4, 'backward');
    el.scrollTop = el.scrollHeight / 2 - el.clientHeight / 2;
    return el.scrollTop;
  }, at);
  await typeText(a, 'top ', { at: 0 });
  await typeText(a, ' end', { at: 'end' });
  await waitForValue(b, `top ${lines} end`, { name: 'B' });
  const after = await b.$eval('#editor', (el) => ({
    scrollTop: el.scrollTop, start: el.selectionStart, end: el.selectionEnd, direction: el.selectionDirection,
    focused: document.activeElement === el,
  }));
  assert.deepEqual(after, { scrollTop: view, start: at + 4, end: at + 8, direction: 'backward', focused: true });
  // What B was given is not B's own edit: B's undo has nothing to take back.
  await b.keyboard.press('Control+z');
  await b.waitForTimeout(300);
  assert.equal(await editorValue(a), `top ${lines} end`);
  assertNoPageErrors(a, b);
});

test('a peer\'s large paste reaches someone at work in the page without freezing it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B']);
  await typeText(b, 'B is writing here.', { at: 0 });
  await waitForValue(a, 'B is writing here.', { name: 'A' });
  // B's caret sits in its focused editor; B's main thread's long tasks are recorded from now.
  await setCaret(b, 2);
  await b.evaluate(() => {
    window.__longest = 0;
    new PerformanceObserver((list) => {
      for (const e of list.getEntries()) window.__longest = Math.max(window.__longest, e.duration);
    }).observe({ type: 'longtask' });
  });
  const line = 'a pasted line of some length, with words in it\n';
  const pasted = line.repeat(Math.ceil(120_000 / line.length)).slice(0, 120_000);
  await paste(a, pasted);
  const expected = `B is writing here.${pasted}`;
  await waitForValue(b, expected, { name: 'B', timeout: 60_000 });
  // Written as the browser's own typing is (insertText), such a paste took one task of many
  // seconds (100 s for 250k units into a 600k page): far past any bound a person would bear.
  const longest = await b.evaluate(() => window.__longest);
  assert.ok(longest < 3_000, `B's page froze for ${Math.round(longest)} ms taking in the paste`);
  assert.deepEqual(await editorSelection(b), { start: 2, end: 2 }, 'B\'s caret stayed where it was');
  await b.keyboard.type('!');
  await waitForValue(a, `B !is writing here.${pasted}`, { name: 'A' });
  assertNoPageErrors(a, b);
});
