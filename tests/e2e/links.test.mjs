// Links that keep up, end to end: renaming a page rewrites the links to it in every page, for
// everyone, and one undo takes it all back; a task's checkbox in the preview toggles its `[ ]`
// in the source, for everyone. Two people per room; each test uses a fresh room.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, openRoom, typeText, editorValue, waitForValue, assertNoPageErrors, until, sidebar,
  waitForOpen, createPage,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;

setUpFile();

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function waitForTitles(page, titles, name) {
  return until(`[${name}] sidebar titles should be ${JSON.stringify(titles)}`,
    () => sidebar(page), (items) => same(items.map((i) => i.title), titles));
}

const item = (page, id) => page.locator(`#pages > li.page-item[data-page="${id}"]`);

async function openPage(page, id, title, name) {
  await item(page, id).locator('button.page-link').click();
  await waitForOpen(page, id, title, name);
}

function wikiLinks(page) {
  return page.$$eval('#preview a.wikilink', (links) => links.map((a) => ({
    title: a.getAttribute('data-title'),
    text: a.textContent,
    missing: a.classList.contains('missing'),
  })));
}

test('renaming a page rewrites the links to it for the other person, and one undo takes it back', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'links', ready: true });
  const alpha = await createPage(a, 'Alpha', { name: 'A' });
  const beta = await createPage(a, 'Beta', { name: 'A' });
  const text = 'see [[Alpha]] and [[Alpha|the first]]';
  await typeText(a, text);
  await waitForTitles(b, ['Home', 'Alpha', 'Beta'], 'B');
  await openPage(b, beta, 'Beta', 'B');
  await waitForValue(b, text, { name: 'B' });

  // A, on Beta, renames Alpha from the page list.
  await item(a, alpha).locator('button.rename-page').click();
  const input = item(a, alpha).locator('input.page-title-input');
  await input.fill('Gamma');
  await a.keyboard.press('Enter');
  const renamed = 'see [[Gamma]] and [[Gamma|the first]]';
  await waitForTitles(b, ['Home', 'Gamma', 'Beta'], 'B');
  await waitForValue(b, renamed, { name: 'B' });
  await waitForValue(a, renamed, { name: 'A' });
  const found = [{ title: 'Gamma', text: 'Gamma', missing: false }, { title: 'Gamma', text: 'the first', missing: false }];
  await until('[B] the preview should link to Gamma, found', () => wikiLinks(b), (l) => same(l, found));

  // One Ctrl+Z in A's editor (on Beta, where A renamed) takes the title and both links back.
  await a.click('#editor');
  await a.keyboard.press('Control+z');
  await waitForTitles(b, ['Home', 'Alpha', 'Beta'], 'B');
  await waitForValue(b, text, { name: 'B' });
  await waitForValue(a, text, { name: 'A' });
  await a.keyboard.press('Control+y');
  await waitForValue(b, renamed, { name: 'B' });

  // B's link still leads to the page.
  await until('[B] the preview should link to Gamma again', () => wikiLinks(b), (l) => same(l, found));
  await b.locator('#preview a.wikilink').nth(1).click();
  await waitForOpen(b, alpha, 'Gamma', 'B');
  assert.deepEqual((await sidebar(b)).map((i) => i.title), ['Home', 'Gamma', 'Beta']);
  assertNoPageErrors(a, b);
});

test('a task checkbox in the preview toggles its marker in the source for both people', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'tasks', ready: true });
  await typeText(a, '- [ ] milk\n- [x] bread');
  await waitForValue(b, '- [ ] milk\n- [x] bread', { name: 'B' });
  const boxes = (page) => page.$$eval('#preview input[type="checkbox"]',
    (inputs) => inputs.map((i) => ({ task: i.getAttribute('data-task'), checked: i.hasAttribute('checked') })));
  const shown = (milk) => [{ task: '0', checked: milk }, { task: '1', checked: true }];
  await until('[A] the preview should show two tasks', () => boxes(a), (l) => same(l, shown(false)));

  await a.click('#preview input[data-task="0"]');
  await waitForValue(a, '- [x] milk\n- [x] bread', { name: 'A' });
  await waitForValue(b, '- [x] milk\n- [x] bread', { name: 'B' });
  await until('[A] the preview should show milk checked', () => boxes(a), (l) => same(l, shown(true)));
  await until('[B] the preview should show milk checked', () => boxes(b), (l) => same(l, shown(true)));

  // Clicking again unchecks it.
  await a.click('#preview input[data-task="0"]');
  await waitForValue(a, '- [ ] milk\n- [x] bread', { name: 'A' });
  await waitForValue(b, '- [ ] milk\n- [x] bread', { name: 'B' });
  await until('[A] the preview should show milk unchecked', () => boxes(a), (l) => same(l, shown(false)));
  assert.equal(await editorValue(a), '- [ ] milk\n- [x] bread');
  assertNoPageErrors(a, b);
});
