// Typing `[[` in the editor offers the notebook's page titles: the list follows what is typed,
// the keys move through it (arrows, Enter, Escape) without reaching the text, a choice completes
// the link as one edit a peer receives, and the create item makes the page without leaving the
// open one.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, openRoom, typeText, editorSelection, editorValue, waitForValue, assertNoPageErrors, until, sidebar,
  waitForOpen, createPage, sleep,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;
/** `room/pages.rs`'s UNDO_CAPTURE_MS. */
const UNDO_CAPTURE_MS = 500;

setUpFile();

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

/**
 * The list as shown: null when closed, else its items ({ title } or { create }), the index of the
 * one marked selected, and whether the editor names it as its active descendant.
 */
function suggestions(page) {
  return page.evaluate(() => {
    const list = document.querySelector('#link-suggestions');
    if (!list) return null;
    const options = [...list.querySelectorAll('[role="option"]')];
    const selected = options.findIndex((o) => o.getAttribute('aria-selected') === 'true');
    const editor = document.querySelector('#editor');
    return {
      items: options.map((o) => (o.hasAttribute('data-create') ? { create: o.getAttribute('data-create') } : { title: o.getAttribute('data-title') })),
      selected,
      named: selected >= 0 && editor.getAttribute('aria-activedescendant') === options[selected].id,
      role: list.getAttribute('role'),
    };
  });
}

/** Where the list is: its left and top edges in the page, and the editor's line height. */
function listPlace(page) {
  return page.evaluate(() => {
    const list = document.querySelector('#link-suggestions').getBoundingClientRect();
    const line = parseFloat(getComputedStyle(document.querySelector('#editor')).lineHeight);
    return { left: list.left, top: list.top, line };
  });
}

function waitForSuggestions(page, items, selected, name) {
  return until(`[${name}] the link suggestions should be ${JSON.stringify(items)} with item ${selected} selected`,
    () => suggestions(page), (s) => s && same(s.items, items) && s.selected === selected && s.named && s.role === 'listbox');
}

function waitForClosed(page, name) {
  return until(`[${name}] the link suggestions should be closed`, () => suggestions(page), (s) => s === null);
}

test('typing [[ offers page titles, completes the link for everyone and creates a page', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'complete' });
  for (const title of ['Apple pie', 'Apricot', 'Banana']) await createPage(a, title, { name: 'A' });
  await a.locator('#pages > li.page-item[data-page="home"] button.page-link').click();
  await waitForOpen(a, 'home', 'Home', 'A');

  await typeText(a, 'See [[ap');
  await waitForSuggestions(a, [{ title: 'Apple pie' }, { title: 'Apricot' }, { create: 'ap' }], 0, 'A');
  await a.keyboard.press('ArrowDown');
  await waitForSuggestions(a, [{ title: 'Apple pie' }, { title: 'Apricot' }, { create: 'ap' }], 1, 'A');
  await a.keyboard.press('Enter');
  await waitForValue(a, 'See [[Apricot]]', { name: 'A' });
  assert.deepEqual(await editorSelection(a), { start: 15, end: 15 }, 'the caret is not after the completed link');
  await waitForClosed(a, 'A');
  await waitForValue(b, 'See [[Apricot]]', { name: 'B' });

  // A title nobody has: the only item creates it; a click takes it, the focus stays.
  await typeText(a, ' [[Cherry');
  await waitForSuggestions(a, [{ create: 'Cherry' }], 0, 'A');
  await a.locator('#link-suggestions [data-create="Cherry"]').click();
  await waitForValue(a, 'See [[Apricot]] [[Cherry]]', { name: 'A' });
  assert.deepEqual(await editorSelection(a), { start: 26, end: 26 }, 'the caret is not after the created link');
  assert.ok(await a.evaluate(() => document.activeElement?.id === 'editor'), 'the editor lost the focus');
  for (const [page, name] of [[a, 'A'], [b, 'B']]) {
    await until(`[${name}] the sidebar should list Cherry`, () => sidebar(page),
      (items) => items.filter((i) => i.title === 'Cherry').length === 1);
  }
  await waitForOpen(a, 'home', 'Home', 'A');
  await waitForValue(b, 'See [[Apricot]] [[Cherry]]', { name: 'B' });
  await waitForClosed(a, 'A');

  // Escape closes the list, and it stays closed while the caret stays in that link: Enter is
  // the editor's again.
  await typeText(a, ' [[b');
  await waitForSuggestions(a, [{ title: 'Banana' }, { create: 'b' }], 0, 'A');
  const afterText = await listPlace(a);
  await a.keyboard.press('Escape');
  await waitForClosed(a, 'A');
  await a.keyboard.type('a');
  await a.keyboard.press('Enter');
  await waitForValue(a, 'See [[Apricot]] [[Cherry]] [[ba\n', { name: 'A' });
  assert.equal(await suggestions(a), null, 'the list opened again in the link Escape closed');
  await waitForValue(b, 'See [[Apricot]] [[Cherry]] [[ba\n', { name: 'B' });

  // A completion is undone whole (with the typing before it, if undo grouped them), never
  // leaving half a link.
  const before = 'See [[Apricot]] [[Cherry]] [[ba\n';
  // Edits closer together than half a second undo as one step: what came before stays.
  await sleep(UNDO_CAPTURE_MS + 100);
  await typeText(a, '[[apr');
  await waitForSuggestions(a, [{ title: 'Apricot' }, { create: 'apr' }], 0, 'A');
  // The list opens under the link's `[[`: this one starts the next line, the one before came
  // after 27 characters of the line above.
  const lineStart = await listPlace(a);
  assert.ok(lineStart.left < afterText.left - 50,
    `the list of a link at a line's start (left ${lineStart.left}) is not left of one after 27 characters (${afterText.left})`);
  assert.ok(Math.abs(lineStart.top - afterText.top - lineStart.line) < 2,
    `the list of a link one line down (top ${lineStart.top}) is not one line (${lineStart.line}px) below the one before (${afterText.top})`);
  await a.keyboard.press('Enter');
  await waitForValue(a, `${before}[[Apricot]]`, { name: 'A' });
  await a.keyboard.press('Control+z');
  const undone = await until('[A] Ctrl+Z should undo the completion', () => editorValue(a),
    (v) => v.startsWith(before) && `${before}[[apr`.startsWith(v));
  await waitForValue(b, undone, { name: 'B' });
  assertNoPageErrors(a, b);
});
