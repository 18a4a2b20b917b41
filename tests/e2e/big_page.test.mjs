// Big pages (issue 14): from 512 KiB the editor holds only a window of the page's lines, its
// paddings standing for the rest (src/session/windowed.rs, crates/core/src/text/big_page.rs).
// A late joiner sees the page's start; scrolled to the end it sees the end; what it types at
// the end reaches the peer at the right place; a peer's edit above the window keeps the local
// caret on its character; the text ends identical everywhere.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, openRoom, openPerson, waitForPeers, assertNoPageErrors, editorDigest, withTimeout, fillEditor,
  setCaret, pageLength, until, notebookText,
} from './harness.mjs';

const MB = 1024 * 1024;
const STEP_TIMEOUT_MS = 45_000;

setUpFile();

/** What the editor shows: its value, where the window starts, the page's length. */
const shown = (p) => p.$eval('#editor', (el) => ({
  value: el.value,
  start: Number(el.getAttribute('data-window-start') ?? 0),
  length: Number(el.getAttribute('data-page-length') ?? el.value.length),
  selection: [el.selectionStart, el.selectionEnd],
}));
const pageText = (p) => p.evaluate(() => window.commonplacePageText());
/** The page's length and its last units. */
const pageEnd = (p) => p.evaluate(() => { const s = window.commonplacePageText(); return { length: s.length, end: s.slice(-8) }; });

/** Types `text` at the caret as one input event (as a paste or a key does). */
const typeHere = (p, text) => p.$eval('#editor', (el, t) => {
  el.dispatchEvent(new InputEvent('beforeinput', { bubbles: true, cancelable: true, inputType: 'insertText', data: t }));
  el.setRangeText(t, el.selectionStart, el.selectionEnd, 'end');
  el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertText', data: t }));
}, text);

test('a late joiner of a big page sees a window of it, scrolls, types, and keeps its caret', { timeout: 180_000 }, async (t) => {
  const size = 1 * MB;
  const { url, pages: [a] } = await openRoom(t, ['A'], { prefix: 'bigpage', ready: true });
  await fillEditor(a, size, { timeout: STEP_TIMEOUT_MS, name: 'A' });
  assert.equal(await pageLength(a), size);
  const want = await withTimeout(editorDigest(a), STEP_TIMEOUT_MS, '[A] hashing');

  const b = await openPerson(t, url, 'B', { ready: true });
  await until('B holds the whole page', () => pageLength(b), (n) => n === size, { timeout: 60_000 });
  await waitForPeers(b, 1);
  const text = await pageText(b);
  assert.deepEqual(await withTimeout(editorDigest(b), STEP_TIMEOUT_MS, '[B] hashing'), want);

  // B sees the page's start, in a window far smaller than the page.
  let view = await shown(b);
  assert.equal(view.start, 0);
  assert.ok(view.value.length > 1000 && view.value.length < size / 4, `window of ${view.value.length} units`);
  assert.equal(view.value, text.slice(0, view.value.length));

  // Scrolled to the end, B sees the end; typed there, A gets it at the end.
  const local = await setCaret(b, 'end');
  view = await shown(b);
  assert.equal(view.start + view.value.length, size, 'the window reaches the page\'s end');
  assert.equal(view.value, text.slice(view.start));
  assert.equal(local, view.value.length);
  await typeHere(b, '⟶B');
  const bEnd = await pageEnd(b);
  assert.equal(bEnd.length, size + 2, `B's page after typing: ${JSON.stringify(bEnd)}`);
  await until('A has B\'s text at the end', () => pageEnd(a), (s) => s.length === size + 2 && s.end.endsWith('⟶B'), { timeout: STEP_TIMEOUT_MS });

  // B's caret sits in the middle of its window; A edits far above it (lines added): the window
  // shifts, B's textarea keeps its value and the caret stays before the same character.
  const middle = size - 40_000;
  const at = await setCaret(b, middle);
  view = await shown(b);
  const character = (await pageText(b))[middle];
  assert.ok(view.start > 1000, 'B\'s window is far from the start');
  await setCaret(a, 10);
  await typeHere(a, 'A above\nand a new line\n');
  const added = 'A above\nand a new line\n'.length;
  await until('B has A\'s edit', () => pageLength(b), (n) => n === size + 2 + added, { timeout: STEP_TIMEOUT_MS });
  const after = await shown(b);
  assert.equal(after.start, view.start + added, 'the window shifted with the edit above it');
  assert.equal(after.value, view.value, 'nothing in the window changed');
  assert.deepEqual(after.selection, [at, at], 'the caret stays on its character');
  assert.equal((await pageText(b))[after.start + at], character);

  // A peer's edit inside B's window goes in where it belongs.
  const inside = middle + added + 5;
  await setCaret(a, inside);
  await typeHere(a, '«in»');
  await until('B shows A\'s edit in its window', () => shown(b), (v) => v.length === size + 2 + added + 4, { timeout: STEP_TIMEOUT_MS });
  const now = await shown(b);
  const page = await pageText(b);
  assert.equal(now.value, page.slice(now.start, now.start + now.value.length));
  assert.equal(page.slice(inside, inside + 4), '«in»');

  // Everyone holds the same text.
  const [da, db] = await Promise.all([editorDigest(a), editorDigest(b)]);
  assert.deepEqual(da, db);
  assertNoPageErrors(a);
  assertNoPageErrors(b);
});

test('a page grown past the threshold by typing is windowed, and shrunk below it is whole again', { timeout: 120_000 }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'bigpage', ready: true });
  await fillEditor(a, 500 * 1024, { timeout: STEP_TIMEOUT_MS, name: 'A' });
  await until('B has the page', () => pageLength(b), (n) => n === 500 * 1024, { timeout: STEP_TIMEOUT_MS });
  assert.equal(await b.$eval('#editor', (el) => el.hasAttribute('data-page-length')), false, 'not windowed below 512 KiB');
  // A pastes 40 KiB more: both now hold a window.
  await setCaret(a, 'end');
  await a.$eval('#editor', (el, chunk) => {
    el.dispatchEvent(new InputEvent('beforeinput', { bubbles: true, cancelable: true, inputType: 'insertFromPaste' }));
    el.setRangeText(chunk, el.selectionStart, el.selectionEnd, 'end');
    el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));
  }, notebookText(40 * 1024, 7));
  const big = 540 * 1024;
  await until('B has the paste', () => pageLength(b), (n) => n === big, { timeout: STEP_TIMEOUT_MS });
  for (const p of [a, b]) {
    const v = await shown(p);
    assert.ok(v.value.length < big / 4, `windowed: ${v.value.length} of ${big}`);
    assert.equal(v.value, (await pageText(p)).slice(v.start, v.start + v.value.length));
  }
  // A deletes the start of the page down to 300 KiB: whole again on both sides.
  await a.$eval('#editor', (el) => { el.focus(); el.setSelectionRange(0, 0); });
  const cut = big - 300 * 1024;
  let left = cut;
  while (left > 0) {
    const removed = await a.$eval('#editor', (el, want) => {
      const n = Math.min(want, el.value.length);
      el.setSelectionRange(0, n);
      el.dispatchEvent(new InputEvent('beforeinput', { bubbles: true, cancelable: true, inputType: 'deleteContentBackward' }));
      el.setRangeText('', 0, n, 'end');
      el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'deleteContentBackward' }));
      return n;
    }, left);
    assert.ok(removed > 0, `A's window is empty with ${left} units still to cut`);
    left -= removed;
  }
  await until('B has the cut', () => pageLength(b), (n) => n === 300 * 1024, { timeout: STEP_TIMEOUT_MS });
  for (const p of [a, b]) {
    const v = await p.$eval('#editor', (el) => ({ windowed: el.hasAttribute('data-page-length'), length: el.value.length }));
    assert.deepEqual(v, { windowed: false, length: 300 * 1024 });
  }
  const [da, db] = await Promise.all([editorDigest(a), editorDigest(b)]);
  assert.deepEqual(da, db);
  assertNoPageErrors(a);
  assertNoPageErrors(b);
});

test('a big paste into a big page leaves the editor holding a window around the caret', { timeout: 120_000 }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'bigpage', ready: true });
  await fillEditor(a, 600 * 1024, { timeout: STEP_TIMEOUT_MS, name: 'A' });
  await until('B has the page', () => pageLength(b), (n) => n === 600 * 1024, { timeout: STEP_TIMEOUT_MS });
  // A pastes 1 MiB at its caret, inside the window (there it lands whole in the textarea).
  const chunk = notebookText(1 * MB, 11);
  await a.$eval('#editor', (el, c) => {
    el.focus();
    const at = Math.floor(el.value.length / 2);
    el.setSelectionRange(at, at);
    el.dispatchEvent(new InputEvent('beforeinput', { bubbles: true, cancelable: true, inputType: 'insertFromPaste' }));
    el.setRangeText(c, at, at, 'end');
    el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste' }));
  }, chunk);
  const big = 600 * 1024 + MB;
  const v = await shown(a);
  assert.equal(v.length, big);
  assert.ok(v.value.length < big / 8, `the textarea holds a window, not the paste: ${v.value.length} of ${big}`);
  const text = await pageText(a);
  assert.equal(v.value, text.slice(v.start, v.start + v.value.length), 'the window is the page where it says');
  const caret = v.start + v.selection[1];
  assert.deepEqual(v.selection[0], v.selection[1]);
  assert.equal(text.slice(caret - 40, caret), chunk.slice(-40), 'the caret stays right after the paste');
  await until('B has the paste', () => pageLength(b), (n) => n === big, { timeout: STEP_TIMEOUT_MS });
  const [da, db] = await Promise.all([editorDigest(a), editorDigest(b)]);
  assert.deepEqual(da, db);
  assertNoPageErrors(a);
  assertNoPageErrors(b);
});
