// The notebook in the browser, end to end: pages (create, rename, move, edit, delete), wiki links
// and backlinks, search, the preview against a suite of XSS payloads, export and import, and the
// share link with its QR code. Two or more people per room; each test uses fresh rooms.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  REPO_ROOT, setUpFile, server, openPerson, openRoom, newRoomName, roomUrl, waitForPeers, typeText, setCaret,
  editorValue, editorSelection, waitForValue, assertNoPageErrors, waitFor, sleep, until, sidebar, openedPage,
  waitForOpen, createPage,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;

setUpFile();

const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

// ---- the sidebar and the open page ---------------------------------------------------------------

/** Waits until the sidebar lists exactly `titles`, in order; returns the sidebar. */
function waitForTitles(page, titles, name, options) {
  return until(`[${name}] sidebar titles should be ${JSON.stringify(titles)}`,
    () => sidebar(page), (items) => same(items.map((i) => i.title), titles), options);
}

/** The sidebar item for page `id`. */
const item = (page, id) => page.locator(`#pages > li.page-item[data-page="${id}"]`);

/** The id of the only page titled `title` in the sidebar (fails if none or several). */
async function idOf(page, title, name) {
  const ids = (await sidebar(page)).filter((i) => i.title === title).map((i) => i.id);
  assert.equal(ids.length, 1, `[${name}] expected exactly one page titled ${JSON.stringify(title)} in the sidebar, found ids ${JSON.stringify(ids)}`);
  return ids[0];
}

/** Opens page `id` from the sidebar and waits until it is the open one. */
async function openPage(page, id, title, name) {
  await item(page, id).locator('button.page-link').click();
  await waitForOpen(page, id, title, name);
}

/** Starts renaming page `id` with its ✎ button; returns the focused title field. */
async function startRename(page, id, name) {
  await item(page, id).locator('button.rename-page').click();
  const input = item(page, id).locator('input.page-title-input');
  await until(`[${name}] ✎ should open a focused title field on page ${id}`,
    () => input.evaluate((el) => document.activeElement === el), Boolean);
  return input;
}

/**
 * The whole notebook as one person sees it, opening every page in turn:
 * [{ id, title, body }] in sidebar order.
 */
async function notebookContents(page, name) {
  const out = [];
  for (const { id, title } of await sidebar(page)) {
    await openPage(page, id, title, name);
    out.push({ id, title, body: await editorValue(page) });
  }
  return out;
}

/**
 * Waits until the person's notebook is `expected` ([{ id?, title, body }], ids compared where
 * given): first the sidebar, then each page's text.
 */
async function waitForNotebook(page, expected, name) {
  const items = await until(`[${name}] sidebar should list ${JSON.stringify(expected.map((p) => p.id ? `${p.id}:${p.title}` : p.title))}`,
    () => sidebar(page),
    (got) => got.length === expected.length && got.every((g, i) => g.title === expected[i].title && (!expected[i].id || g.id === expected[i].id)));
  for (const [i, want] of expected.entries()) {
    await openPage(page, items[i].id, want.title, name);
    await waitForValue(page, want.body, { name: `${name}, page ${JSON.stringify(want.title)}` });
  }
}

// ---- the preview ---------------------------------------------------------------------------------

/** The wiki links in #preview: { missing, title (data-title), text, href }. */
function wikiLinks(page) {
  return page.$$eval('#preview a.wikilink', (links) => links.map((a) => ({
    missing: a.classList.contains('missing'),
    title: a.getAttribute('data-title'),
    text: a.textContent,
    href: a.getAttribute('href'),
  })));
}

function previewText(page) {
  return page.$eval('#preview', (el) => el.textContent);
}

// ---- files ---------------------------------------------------------------------------------------

/** Clicks `selector` and returns the download it starts: { name, bytes }. */
async function download(page, selector, name) {
  const [dl] = await Promise.all([
    waitFor(page.waitForEvent('download', { timeout: 10_000 }), `[${name}] clicking ${selector} started no download`),
    page.click(selector),
  ]);
  const failure = await dl.failure();
  assert.equal(failure, null, `[${name}] the download from ${selector} failed: ${failure}`);
  return { name: dl.suggestedFilename(), bytes: readFileSync(await dl.path()) };
}

/**
 * The entries of an uncompressed (stored) ZIP archive, read through its central directory:
 * [{ name, body (UTF-8) }]. Throws on anything else.
 */
function readStoredZip(buf) {
  const eocd = buf.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  assert.ok(eocd >= 0, 'no end-of-central-directory record: not a ZIP archive');
  const count = buf.readUInt16LE(eocd + 10);
  let at = buf.readUInt32LE(eocd + 16);
  const entries = [];
  for (let i = 0; i < count; i++) {
    assert.equal(buf.readUInt32LE(at), 0x02014b50, `central directory entry ${i} has a bad signature`);
    const method = buf.readUInt16LE(at + 10);
    const size = buf.readUInt32LE(at + 20);
    const nameLen = buf.readUInt16LE(at + 28);
    const skip = nameLen + buf.readUInt16LE(at + 30) + buf.readUInt16LE(at + 32);
    const local = buf.readUInt32LE(at + 42);
    const name = buf.subarray(at + 46, at + 46 + nameLen).toString('utf8');
    assert.equal(method, 0, `entry ${name} is compressed (method ${method}), not stored`);
    assert.equal(buf.readUInt32LE(local), 0x04034b50, `entry ${name}'s local header has a bad signature`);
    const data = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28);
    entries.push({ name, body: buf.subarray(data, data + size).toString('utf8') });
    at += 46 + skip;
  }
  return entries;
}

// ---- 1. pages ------------------------------------------------------------------------------------

test('pages: creating, renaming, moving, editing and deleting a page reach the other person', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'nb', ready: true });
  await Promise.all([waitForTitles(a, ['Home'], 'A'), waitForTitles(b, ['Home'], 'B')]);
  assert.equal(await item(a, 'home').locator('button.delete-page').count(), 0, 'Home has a delete button');

  const homeText = 'The home page.';
  await typeText(a, homeText);
  await waitForValue(b, homeText, { name: 'B' });

  // A creates "Recipes": it opens for A, empty; B sees it in the sidebar and stays on Home.
  const id = await createPage(a, 'Recipes', { name: 'A' });
  assert.notEqual(id, 'home');
  await waitForOpen(a, id, 'Recipes', 'A');
  assert.equal(await editorValue(a), '', 'a new page is not empty');
  await waitForTitles(b, ['Home', 'Recipes'], 'B');
  assert.equal(await idOf(b, 'Recipes', 'B'), id, 'B lists Recipes under another id than A');
  await waitForOpen(b, 'home', 'Home', 'B');

  // B starts renaming and presses Escape: nothing changes, anywhere.
  let input = await startRename(b, id, 'B');
  await b.keyboard.type('Discarded');
  await b.keyboard.press('Escape');
  await until('[B] Escape should close the title field', () => input.count(), (n) => n === 0);
  await sleep(300);
  await waitForTitles(b, ['Home', 'Recipes'], 'B', { timeout: 1_000 });
  await waitForTitles(a, ['Home', 'Recipes'], 'A', { timeout: 1_000 });

  // B renames it to "Bread recipes": A's sidebar and A's #page-title follow.
  input = await startRename(b, id, 'B');
  await input.fill('Bread recipes');
  await b.keyboard.press('Enter');
  await waitForTitles(b, ['Home', 'Bread recipes'], 'B');
  await waitForTitles(a, ['Home', 'Bread recipes'], 'A');
  await waitForOpen(a, id, 'Bread recipes', 'A');

  // A moves it above Home: both see the new order; ↑ is disabled on the first page, ↓ on the last.
  await item(a, id).locator('button.move-up').click();
  await waitForTitles(a, ['Bread recipes', 'Home'], 'A');
  await waitForTitles(b, ['Bread recipes', 'Home'], 'B');
  assert.ok(await item(b, id).locator('button.move-up').isDisabled(), '↑ is enabled on the first page');
  assert.ok(await item(b, 'home').locator('button.move-down').isDisabled(), '↓ is enabled on the last page');
  assert.ok(!(await item(b, 'home').locator('button.move-up').isDisabled()), '↑ is disabled on Home, now second');

  // A types into it; B opens it and sees the text (and Home's text is untouched).
  const body = 'Flour, water, salt.\n\n- 500 g flour\n- 350 g water 💧';
  await typeText(a, body, { at: 0 });
  assert.equal(await editorValue(a), body);
  await openPage(b, id, 'Bread recipes', 'B');
  await waitForValue(b, body, { name: 'B' });
  await until('[B] the preview should render the list', () => b.$$eval('#preview li', (l) => l.map((e) => e.textContent)),
    (l) => same(l, ['500 g flour', '350 g water 💧']));
  await openPage(b, 'home', 'Home', 'B');
  assert.equal(await editorValue(b), homeText, 'typing into the new page changed Home');

  // A renames by double-clicking the title and leaving the field: leaving commits.
  await item(a, id).locator('button.page-link').dblclick();
  const field = item(a, id).locator('input.page-title-input');
  await until('[A] a double-click should open a focused title field', () => field.evaluate((el) => document.activeElement === el), Boolean);
  await field.fill('  Sourdough bread ');
  await a.click('#editor');
  await waitForTitles(a, ['Sourdough bread', 'Home'], 'A');
  await waitForTitles(b, ['Sourdough bread', 'Home'], 'B');
  await waitForOpen(a, id, 'Sourdough bread', 'A');

  // B deletes it: cancelling the confirmation keeps it, accepting removes it for both. A had it
  // open, so A is back on Home.
  const questions = [];
  let answer = 'dismiss';
  b.on('dialog', (d) => { questions.push(d.message()); d[answer](); });
  await item(b, id).locator('button.delete-page').click();
  await until('[B] a confirmation should be asked', async () => questions.length, (n) => n === 1);
  assert.match(questions[0], /Sourdough bread/, 'the confirmation does not name the page');
  await sleep(300);
  await waitForTitles(b, ['Sourdough bread', 'Home'], 'B', { timeout: 1_000 });
  await waitForTitles(a, ['Sourdough bread', 'Home'], 'A', { timeout: 1_000 });

  answer = 'accept';
  await item(b, id).locator('button.delete-page').click();
  await until('[B] a second confirmation should be asked', async () => questions.length, (n) => n === 2);
  await waitForTitles(b, ['Home'], 'B');
  await waitForTitles(a, ['Home'], 'A');
  await waitForOpen(a, 'home', 'Home', 'A');
  await waitForValue(a, homeText, { name: 'A' });
  assertNoPageErrors(a, b);
});

// ---- 2. wiki links -------------------------------------------------------------------------------

// The notebook's name lives in the document (meta.title): anyone renames it, everyone sees it in
// the header and the tab's title.
test('the notebook is named by anyone in the room, in the header and the tab title', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'nbtitle', ready: true });
  const shown = (page) => page.evaluate(() => ({
    header: document.querySelector('#notebook-title')?.textContent,
    untitled: document.querySelector('#notebook-title')?.dataset.untitled,
    tab: document.title,
  }));
  assert.deepEqual(await shown(b), { header: 'Untitled notebook', untitled: 'true', tab: 'Commonplace' });

  await a.click('#notebook-title');
  await a.fill('#notebook-title-input', '  Reading notes ');
  await a.press('#notebook-title-input', 'Enter');
  const named = { header: 'Reading notes', untitled: 'false', tab: 'Reading notes · Commonplace' };
  for (const [page, name] of [[a, 'A'], [b, 'B']]) {
    await until(`[${name}] the notebook's new name`, () => shown(page), (s) => s.header === named.header && s.tab === named.tab);
    assert.deepEqual(await shown(page), named, `[${name}]`);
  }

  // B starts renaming and presses Escape: nothing changes.
  await b.click('#notebook-title');
  await b.fill('#notebook-title-input', 'Discarded');
  await b.press('#notebook-title-input', 'Escape');
  assert.deepEqual(await shown(b), named);

  // Still named after a reload.
  await a.reload({ waitUntil: 'load' });
  await until('[A reloaded] the stored name', () => shown(a), (s) => s.header === named.header);
  assertNoPageErrors(a, b);
});

// The start screen (`/` without a room) lists the notebooks this browser holds, most recently
// opened first, with their names and pages; one can be forgotten (its IndexedDB copy deleted).
test('the start screen lists this browser\'s notebooks, opens them, and forgets one', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const rooms = [newRoomName('list'), newRoomName('list'), newRoomName('list')];
  const a = await openPerson(t, roomUrl(server, rooms[0]), 'A', { ready: true });
  await a.click('#notebook-title');
  await a.fill('#notebook-title-input', 'Quotes');
  await a.press('#notebook-title-input', 'Enter');
  await typeText(a, 'Kept here.');
  const visit = async (room) => {
    await a.goto(roomUrl(server, room), { waitUntil: 'load' });
    await a.waitForSelector(`#editor[data-ready]`);
  };
  await visit(rooms[1]);
  await createPage(a, 'Second', { name: 'A' });
  await visit(rooms[2]);

  await a.goto(server.url, { waitUntil: 'load' });
  await a.waitForSelector('#start');
  const listed = () => a.$$eval('#notebooks .notebook', (items) => items.map((li) => ({
    room: li.dataset.room,
    name: li.querySelector('.notebook-link').textContent,
    href: li.querySelector('.notebook-link').getAttribute('href'),
    facts: li.querySelector('.notebook-facts').textContent,
  })));
  const list = await listed();
  assert.deepEqual(list.map((n) => n.room), [rooms[2], rooms[1], rooms[0]], `listed: ${JSON.stringify(list)}`);
  assert.deepEqual(list.map((n) => n.name), ['Untitled notebook', 'Untitled notebook', 'Quotes']);
  assert.match(list[1].facts, /2 pages/, list[1].facts);
  assert.match(list[0].facts, /1 page\b/, list[0].facts);
  assert.equal(list[2].href, `#room=${rooms[0]}`);

  // Forgotten: gone from the list and this browser's copy deleted.
  a.once('dialog', (dialog) => {
    assert.match(dialog.message(), /Forget “Quotes” on this browser\?/);
    dialog.accept();
  });
  await a.click(`#notebooks .notebook[data-room="${rooms[0]}"] .forget-notebook`);
  await until('the forgotten notebook gone from the list', listed, (l) => l.length === 2);
  await until('its IndexedDB copy deleted', () => a.evaluate(async () => (await indexedDB.databases()).map((d) => d.name)),
    (names) => !names.includes(rooms[0]) && names.includes(rooms[1]));

  // A listed notebook opens from its link.
  await a.click(`#notebooks .notebook[data-room="${rooms[1]}"] .notebook-link`);
  await a.waitForSelector('#editor[data-ready]');
  await until('the second notebook open', () => sidebar(a), (pages) => pages.some((p) => p.title === 'Second'));
  assertNoPageErrors(a);
});

test('a wiki link to a missing page creates it once and opens it for whoever follows it', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'nb', ready: true });
  const text = 'See [[Sourdough]]';
  await typeText(a, text);
  await waitForValue(b, text, { name: 'B' });

  const missing = [{ missing: true, title: 'Sourdough', text: 'Sourdough', href: null }];
  await until('[A] the preview should show a missing wiki link', () => wikiLinks(a), (l) => same(l, missing));
  await until('[B] the preview should show a missing wiki link', () => wikiLinks(b), (l) => same(l, missing));

  // A follows it: a new page "Sourdough", open for A, listed for B.
  await a.click('#preview a.wikilink');
  const aSide = await waitForTitles(a, ['Home', 'Sourdough'], 'A');
  const id = aSide[1].id;
  await waitForOpen(a, id, 'Sourdough', 'A');
  assert.equal(await editorValue(a), '', 'the page a link created is not empty');
  await waitForTitles(b, ['Home', 'Sourdough'], 'B');
  await waitForOpen(b, 'home', 'Home', 'B');
  const found = [{ ...missing[0], missing: false }];
  await until('[B] the link should no longer be missing', () => wikiLinks(b), (l) => same(l, found));

  // B follows its own copy of the link: the same page opens, none is created.
  await b.click('#preview a.wikilink');
  await waitForOpen(b, id, 'Sourdough', 'B');
  // Sourdough lists Home as linking to it, for both.
  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    await until(`[${name}] Sourdough's backlinks should list Home`,
      () => p.$$eval('#backlinks button.backlink', (l) => l.map((e) => ({ id: e.getAttribute('data-page'), title: e.textContent.trim() }))),
      (l) => same(l, [{ id: 'home', title: 'Home' }]));
  }

  // A, back on Home, sees the link found too; a differently spelled link ("  SOURDOUGH ") to the
  // same title, followed with the keyboard, opens the same page.
  await openPage(a, 'home', 'Home', 'A');
  await until('[A] the link should no longer be missing', () => wikiLinks(a), (l) => same(l, found));
  await typeText(a, '\n\nAlso [[  SOURDOUGH ]].', { at: 'end' });
  await until('[A] the second link should render, found', () => wikiLinks(a),
    (l) => l.length === 2 && l[1].title === 'SOURDOUGH' && !l[1].missing);
  await a.locator('#preview a.wikilink').nth(1).focus();
  await a.keyboard.press('Enter');
  await waitForOpen(a, id, 'Sourdough', 'A');

  // A moment for any page created by mistake to arrive: still exactly one Sourdough, everywhere.
  await sleep(500);
  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    assert.deepEqual((await sidebar(p)).map((i) => [i.id, i.title]), [['home', 'Home'], [id, 'Sourdough']], `[${name}] sidebar`);
  }
  assertNoPageErrors(a, b);
});

// ---- 3. search -----------------------------------------------------------------------------------

test('search finds text in a page that is not open, and opening the hit selects the match', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'nb', ready: true });
  // Emoji before the match: two UTF-16 units each, one char each in Rust.
  const body = 'Packing list 🎒🧳\nCafé stop — naïve plan\nThe Zeppelin leaves at noon.\n';
  const travel = await createPage(a, 'Travel', { name: 'A' });
  await typeText(a, body, { at: 0 });
  const museum = await createPage(a, 'Zeppelin museum', { name: 'A' });

  // B receives both (opening Travel once to be sure its text has arrived), then goes Home.
  await waitForTitles(b, ['Home', 'Travel', 'Zeppelin museum'], 'B');
  await openPage(b, travel, 'Travel', 'B');
  await waitForValue(b, body, { name: 'B' });
  await openPage(b, 'home', 'Home', 'B');

  const hits = () => b.$$eval('#search-results button.search-hit', (l) => l.map((e) => ({
    id: e.getAttribute('data-page'),
    title: e.querySelector('strong')?.textContent ?? null,
    snippet: e.querySelector('.snippet')?.textContent ?? null,
  })));

  // Nothing for text that is nowhere.
  await b.fill('#search', 'xylophone');
  await until('[B] "xylophone" should find nothing', () => b.$eval('#search-results', (el) => el.textContent), (s) => /Nothing found/.test(s));
  assert.equal((await hits()).length, 0);

  // A title hit first, then the body hit with its snippet; case does not matter.
  await b.fill('#search', 'ZEPPELIN');
  const found = await until('[B] "ZEPPELIN" should find the museum (title) and Travel (text)', hits, (l) => l.length === 2);
  assert.deepEqual(found[0], { id: museum, title: 'Zeppelin museum', snippet: null });
  assert.equal(found[1].id, travel);
  assert.equal(found[1].title, 'Travel');
  assert.match(found[1].snippet, /The Zeppelin leaves at noon/, 'the snippet does not show the match');
  assert.ok(!found[1].snippet.includes('\n'), 'the snippet spans lines');

  // Opening the body hit: Travel opens with exactly "Zeppelin" selected, the editor focused.
  await b.locator(`#search-results button.search-hit[data-page="${travel}"]`).click();
  await waitForOpen(b, travel, 'Travel', 'B');
  const start = body.indexOf('Zeppelin');
  const sel = await editorSelection(b);
  const selected = await b.$eval('#editor', (el) => el.value.slice(el.selectionStart, el.selectionEnd));
  assert.deepEqual(sel, { start, end: start + 'Zeppelin'.length },
    `the selection is ${JSON.stringify(sel)} (${JSON.stringify(selected)}), not the match at ${start}`);
  assert.equal(selected, 'Zeppelin');
  assert.ok(await b.$eval('#editor', (el) => document.activeElement === el), 'the editor is not focused after opening a hit');

  // Opening the title hit opens the museum page.
  await b.locator(`#search-results button.search-hit[data-page="${museum}"]`).click();
  await waitForOpen(b, museum, 'Zeppelin museum', 'B');
  // A never moved.
  assert.deepEqual(await openedPage(a), { id: museum, title: 'Zeppelin museum' });

  // A hit whose page someone deleted since: following it leaves B where it was, selection and all.
  const homeText = 'Home, with enough text to select from.';
  await openPage(b, 'home', 'Home', 'B');
  await typeText(b, homeText, { at: 0 });
  await b.fill('#search', 'noon');
  await until('[B] "noon" should find Travel', hits, (l) => same(l.map((h) => h.id), [travel]));
  a.once('dialog', (d) => d.accept());
  await item(a, travel).locator('button.delete-page').click();
  await waitForTitles(b, ['Home', 'Zeppelin museum'], 'B');
  await setCaret(b, 4);
  await b.locator(`#search-results button.search-hit[data-page="${travel}"]`).click();
  await sleep(200);
  await waitForOpen(b, 'home', 'Home', 'B', { timeout: 1_000 });
  assert.equal(await editorValue(b), homeText);
  assert.deepEqual(await editorSelection(b), { start: 4, end: 4 }, 'a hit for a deleted page moved the selection in the open page');
  assertNoPageErrors(a, b);
});

// ---- 4. XSS --------------------------------------------------------------------------------------

const XSS_VECTORS = JSON.parse(readFileSync(path.join(REPO_ROOT, 'crates', 'core', 'tests', 'fixtures', 'xss_vectors.json'), 'utf8'));
// Every page and frame of a person's context (popups included) records payloads that run, in
// the page and through a binding to the test.
const XSS_DETECTOR = `window.__xss = (n) => {
  (window.__xssHits ||= []).push(n);
  try { window.__xssSeen?.(n); } catch {}
};`;
const FORBIDDEN_TAGS = 'script,iframe,object,embed,form,meta,base,link,style,svg,math';

/** What #preview holds that it must not, and what the page saw. */
function xssReport(page) {
  return page.evaluate((forbidden) => {
    const preview = document.querySelector('#preview');
    const all = [...preview.querySelectorAll('*')];
    const schemeOk = (u) => /^(https?|mailto):/i.test(u) && ['http:', 'https:', 'mailto:'].includes(new URL(u, location.href).protocol);
    return {
      hits: window.__xssHits ?? [],
      forbidden: [...preview.querySelectorAll(forbidden)].map((e) => e.outerHTML.slice(0, 120)),
      onAttributes: all.flatMap((e) => [...e.attributes].filter((a) => /^on/i.test(a.name)).map((a) => `<${e.localName} ${a.name}>`)),
      badUrls: [
        ...[...preview.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')),
        ...[...preview.querySelectorAll('img')].map((i) => i.getAttribute('src') ?? '<no src>'),
        ...[...preview.querySelectorAll('[src],[srcset],[action],[formaction],[xlink\\:href],[data]')]
          .filter((e) => e.localName !== 'img').map((e) => `<${e.localName}> ${e.outerHTML.slice(0, 80)}`),
      ].filter((u) => !schemeOk(u)),
      // A link without href must be a wiki link the app follows itself.
      strayAnchors: [...preview.querySelectorAll('a:not([href])')].filter((a) => !(a.classList.contains('wikilink') && a.hasAttribute('data-title')))
        .map((a) => a.outerHTML.slice(0, 120)),
      links: preview.querySelectorAll('a').length,
      images: preview.querySelectorAll('img').length,
      url: location.href,
    };
  }, FORBIDDEN_TAGS);
}

/**
 * Hovers and clicks every link and image in the preview (re-reading the preview each time, as it
 * re-renders), checking after each that the app is still at `url`. A wiki link opens (or
 * creates) its page: then the person goes back to `id`.
 * Clicks that cannot be made with the mouse (an element with no box) are dispatched instead.
 * Returns { mouse, dispatched, wiki }.
 */
async function clickEverything(page, name, { id, title, marker, url }) {
  const targets = page.locator('#preview a, #preview img');
  const total = await targets.count();
  const counts = { mouse: 0, dispatched: 0, wiki: 0 };
  for (let i = 0; i < total; i++) {
    const el = targets.nth(i);
    const wiki = await el.evaluate((e) => (e.matches('a.wikilink') ? e.getAttribute('data-title') : null));
    try {
      await el.hover({ timeout: 1_000 });
      await el.click({ timeout: 1_000 });
      counts.mouse++;
    } catch {
      await el.dispatchEvent('mouseover');
      await el.dispatchEvent('click');
      counts.dispatched++;
    }
    assert.equal(page.url(), url, `[${name}] clicking link or image ${i} navigated the app away from its room`);
    if (wiki !== null) {
      counts.wiki++;
      await waitForOpen(page, await until(`[${name}] following [[${wiki}]] should open a page titled ${JSON.stringify(wiki.trim())}`,
        () => openedPage(page), (o) => o.title === wiki.trim() && o.id !== id).then((o) => o.id), wiki.trim(), name);
      await openPage(page, id, title, name);
      await until(`[${name}] the preview should show the vectors again`, () => previewText(page), (s) => s.includes(marker));
    }
    assert.equal(await targets.count(), total, `[${name}] the preview's links and images changed while clicking them`);
  }
  return counts;
}

test('the preview of hostile markdown runs no script, opens no dialog, and never navigates the app', { timeout: 150_000 }, async (t) => {
  const seen = { A: [], B: [] }; // __xss(n) calls in any page of the context: { n, url }
  const dialogs = { A: [], B: [] };
  const popups = { A: [], B: [] }; // { opened, loaded } URLs
  const popupsClosed = [];
  const origin = new URL(server.url).origin;
  const options = {
    prefix: 'nb',
    ready: true,
    // Blocked external links and images, and the probe's `src=x`, are expected failures.
    ignoreConsole: /^Failed to load resource: (net::ERR_FAILED|the server responded with a status of 404)/,
    async setup(context, name) {
      await context.addInitScript(XSS_DETECTOR);
      await context.exposeBinding('__xssSeen', ({ page }, n) => { seen[name].push({ n, url: page?.url() }); });
      // Nothing leaves this machine (links and images point at example.com and the like).
      await context.route((u) => u.origin !== origin, (route) => route.abort());
      let own = null; // the person's tab: the first one opened
      context.on('page', (p) => {
        const tab = own ? 'new tab' : 'tab';
        own ??= p;
        p.on('dialog', (d) => { dialogs[name].push(`${tab} ${d.type()}: ${d.message()}`); d.dismiss().catch(() => {}); });
        if (p === own) return;
        // A link opened a new tab: let it load (a payload would run by then), then close it.
        const record = { opened: p.url(), loaded: null };
        popups[name].push(record);
        popupsClosed.push((async () => {
          await p.waitForLoadState('load', { timeout: 3_000 }).catch(() => {});
          await sleep(200);
          record.loaded = p.url();
          await p.close().catch(() => {});
        })());
      });
    },
  };
  const { url, pages: [a, b] } = await openRoom(t, ['A', 'B'], options);

  // B types every vector into Home, each in one input event (as a paste or an IME would),
  // separated by blank lines; A has Home open.
  const marker = `END-OF-VECTORS-${newRoomName('x')}`;
  await setCaret(b, 'end');
  let expected = '';
  for (const vector of XSS_VECTORS) {
    await b.keyboard.insertText(vector); // U+0000 (vector 114) included: checked just below
    await b.keyboard.press('Enter');
    await b.keyboard.press('Enter');
    expected += `${vector}\n\n`;
  }
  await b.keyboard.insertText(marker);
  expected += marker;
  assert.equal(await editorValue(b), expected, 'B\'s editor does not hold exactly the vectors it typed');
  await waitForValue(a, expected, { name: 'A', timeout: 20_000 });

  const assertClean = async (p, name, when) => {
    const report = await xssReport(p);
    assert.deepEqual(report.hits, [], `[${name}] ${when}: payloads ran: __xss(${report.hits.join('), __xss(')})`);
    assert.deepEqual(seen[name], [], `[${name}] ${when}: payloads ran in the person's tabs`);
    assert.deepEqual(dialogs[name], [], `[${name}] ${when}: dialogs opened`);
    assert.deepEqual(report.forbidden, [], `[${name}] ${when}: forbidden elements in the preview`);
    assert.deepEqual(report.onAttributes, [], `[${name}] ${when}: event handler attributes in the preview`);
    assert.deepEqual(report.badUrls, [], `[${name}] ${when}: URLs other than http/https/mailto in the preview`);
    assert.deepEqual(report.strayAnchors, [], `[${name}] ${when}: links that are neither external nor wiki links`);
    assert.equal(report.url, url, `[${name}] ${when}: the app navigated away from its room`);
    const allowed = (u) => u === null || /^(about:blank|https?:|mailto:|chrome-error:)/.test(u);
    assert.ok(popups[name].every((r) => allowed(r.opened) && allowed(r.loaded)), `[${name}] ${when}: new tabs ${JSON.stringify(popups[name])}`);
    return report;
  };

  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    await until(`[${name}] the preview should render up to the last vector`, () => previewText(p), (s) => s.includes(marker));
    await sleep(500);
    const report = await assertClean(p, name, 'once rendered');
    // The payloads are there, shown as text, and there is something to click.
    const shown = await previewText(p);
    for (const literal of ['<script>__xss(0)</script>', '<img src=x onerror=__xss(2)>', '<svg onload=__xss(7)>', '<iframe src="javascript:__xss(13)"></iframe>']) {
      assert.ok(shown.includes(literal), `[${name}] the preview does not show ${literal} as text`);
    }
    assert.ok(report.links >= 10 && report.images >= 1, `[${name}] the preview has only ${report.links} links and ${report.images} images: nothing to click`);
  }

  const clicked = {};
  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    clicked[name] = await clickEverything(p, name, { id: 'home', title: 'Home', marker, url });
    assert.ok(clicked[name].wiki >= 5, `[${name}] only ${clicked[name].wiki} wiki links were followed`);
  }
  await sleep(500);
  await Promise.all(popupsClosed);

  for (const [p, name] of [[a, 'A'], [b, 'B']]) {
    await assertClean(p, name, 'after hovering and clicking every link and image');

    // The detectors work in this very page: an inline handler outside the app does run, and a
    // dialog is seen.
    await p.evaluate(() => {
      const scratch = document.createElement('div');
      scratch.id = 'xss-scratch';
      document.body.append(scratch);
      scratch.innerHTML = '<img src=x onerror="__xss(999)">';
    });
    await until(`[${name}] the detector should see an inline handler that does run`, () => p.evaluate(() => window.__xssHits ?? []), (h) => same(h, [999]));
    await until(`[${name}] the test should hear of it too`, async () => seen[name].map((s) => s.n), (h) => same(h, [999]));
    await p.evaluate(() => { document.querySelector('#xss-scratch').remove(); window.__xssHits = []; });
    await p.evaluate(() => setTimeout(() => alert('probe'), 0));
    await until(`[${name}] the dialog counter should see an alert`, async () => dialogs[name], (d) => d.length === 1);
  }
  t.diagnostic(`clicked A ${JSON.stringify(clicked.A)}, B ${JSON.stringify(clicked.B)}; popups A ${popups.A.length}, B ${popups.B.length}`);
  assertNoPageErrors(a, b);
});

// ---- 5. export and import ------------------------------------------------------------------------

test('a notebook exported as markdown or as a Yjs update imports back with the same pages', { timeout: 120_000 }, async (t) => {
  const { pages: [a] } = await openRoom(t, ['A'], { prefix: 'nb', ready: true });
  const bodies = {
    Home: '# Home\n\nWelcome 👋 to the *test* notebook.\n\n- [[Café ☕]]\n- [[日本語]]\n',
    'Café ☕': '## Menu\n\n| drink | price |\n|---|---|\n| espresso ☕ | 2 € |\n\n> naïve crème brûlée 🍮\n',
    'Notes/2026': '1. first\n2. second — with `code` and **bold**\n\n```rust\nfn main() {}\n```\n',
    '日本語': '日本語のテキスト 🎌\n改行あり\n',
  };
  await a.focus('#editor');
  await a.keyboard.insertText(bodies.Home);
  for (const title of ['Café ☕', 'Notes/2026', '日本語']) {
    await createPage(a, title, { name: 'A' });
    await a.focus('#editor');
    await a.keyboard.insertText(bodies[title]);
    assert.equal(await editorValue(a), bodies[title], `[A] the editor of ${title} does not hold what was typed`);
  }
  // Order unlike creation: 日本語 before Notes/2026.
  await item(a, await idOf(a, '日本語', 'A')).locator('button.move-up').click();
  await waitForTitles(a, ['Home', 'Café ☕', '日本語', 'Notes/2026'], 'A');
  const original = await notebookContents(a, 'A');
  assert.deepEqual(original.map((p) => [p.title, p.body]), ['Home', 'Café ☕', '日本語', 'Notes/2026'].map((title) => [title, bodies[title]]));

  // (a) Markdown: one <title>.md per page, in order, stored, exactly the bodies.
  const zip = await download(a, '#export-markdown', 'A');
  assert.equal(zip.name, 'notebook.zip');
  const entries = readStoredZip(zip.bytes);
  assert.deepEqual(entries, original.map((p) => ({ name: `${p.title.replace('/', '%2F')}.md`, body: p.body })));

  const b = await openPerson(t, roomUrl(server, newRoomName('nb-zip')), 'B', { ready: true });
  await b.setInputFiles('#import-files', { name: 'notebook.zip', mimeType: 'application/zip', buffer: zip.bytes });
  await until('[B] #files-message should report the import', () => b.textContent('#files-message'), (m) => m === 'Imported 4 pages.');
  // B's own (empty) Home first, then A's pages, Home included as a page titled "Home".
  await waitForNotebook(b, [{ id: 'home', title: 'Home', body: '' }, ...original.map(({ title, body }) => ({ title, body }))], 'B');
  const imported = (await sidebar(b)).slice(1);
  assert.ok(imported.every((p) => p.id !== 'home' && !original.some((o) => o.id === p.id)), 'imported pages kept ids');
  // Loose markdown files too, several at once, added at the end (CRLF becomes LF, as in the
  // editor); a choice with a file that is not markdown is refused whole.
  const looseFiles = [
    { name: 'Plain note.md', mimeType: 'text/markdown', buffer: Buffer.from('Just *text* 📝\n') },
    { name: 'list.TXT', mimeType: 'text/plain', buffer: Buffer.from('- one\r\n- two\r\n') },
  ];
  await b.setInputFiles('#import-files', [...looseFiles, { name: 'photo.png', mimeType: 'image/png', buffer: Buffer.from([0x89, 0x50, 0x4e, 0x47]) }]);
  await until('[B] #files-message should refuse the png', () => b.textContent('#files-message'), (m) => /^Cannot import: photo\.png/.test(m));
  assert.equal((await sidebar(b)).length, 5, 'a refused import added pages');
  await b.setInputFiles('#import-files', looseFiles);
  await until('[B] #files-message should report the second import', () => b.textContent('#files-message'), (m) => m === 'Imported 2 pages.');
  await waitForNotebook(b, [{ id: 'home', title: 'Home', body: '' }, ...original.map(({ title, body }) => ({ title, body })),
    { title: 'Plain note', body: 'Just *text* 📝\n' }, { title: 'list', body: '- one\n- two\n' }], 'B');

  // (b) Yjs: the very same notebook, ids and all, which a peer joining later also gets.
  const update = await download(a, '#export-yjs', 'A');
  assert.equal(update.name, 'notebook.yjs');
  const cRoom = roomUrl(server, newRoomName('nb-yjs'));
  const c = await openPerson(t, cRoom, 'C', { ready: true });
  await c.setInputFiles('#import-yjs', { name: 'notebook.yjs', mimeType: 'application/octet-stream', buffer: update.bytes });
  await until('[C] #files-message should report the import', () => c.textContent('#files-message'), (m) => m === 'Notebook imported.');
  await waitForNotebook(c, original, 'C');
  assert.deepEqual(await notebookContents(c, 'C'), original);
  const d = await openPerson(t, cRoom, 'D', { ready: true });
  await Promise.all([waitForPeers(c, 1), waitForPeers(d, 1)]);
  await waitForNotebook(d, original, 'D');
  assert.deepEqual(await notebookContents(d, 'D'), original);

  // A file that is no Yjs update is refused and changes nothing.
  await c.setInputFiles('#import-yjs', { name: 'junk.yjs', mimeType: 'application/octet-stream', buffer: Buffer.from('not a yjs update at all') });
  await until('[C] #files-message should refuse junk', () => c.textContent('#files-message'), (m) => /^Cannot import: junk\.yjs: /.test(m));
  assert.deepEqual(await sidebar(c).then((s) => s.map((p) => p.id)), original.map((p) => p.id));

  // (c) One page: <title>.md holding exactly its body.
  for (const title of ['Café ☕', 'Notes/2026']) {
    await openPage(a, await idOf(a, title, 'A'), title, 'A');
    const file = await download(a, '#export-page', 'A');
    assert.equal(file.name, `${title.replace('/', '%2F')}.md`);
    assert.equal(file.bytes.toString('utf8'), bodies[title]);
  }
  assertNoPageErrors(a, b, c, d);
});

// ---- 6. sharing ----------------------------------------------------------------------------------

/** The dark modules of the QR code's SVG (path of `M{x} {y}h{run}v1h-{run}z`), as rows of 0/1. */
function qrModules(svg) {
  const side = Number(svg.match(/viewBox="0 0 (\d+) \1"/)?.[1]);
  const d = svg.match(/<path[^>]* d="([^"]*)"/)?.[1] ?? '';
  const grid = Array.from({ length: side }, () => Array(side).fill(0));
  for (const [, x, y, run] of d.matchAll(/M(\d+) (\d+)h(\d+)v1h-\3z/g)) {
    for (let i = 0; i < Number(run); i++) grid[Number(y)][Number(x) + i] = 1;
  }
  return grid;
}

/** Whether a QR finder pattern (7×7: ring, gap, 3×3 core) has its top-left corner at (x, y). */
function isFinder(grid, x, y) {
  for (let r = 0; r < 7; r++) {
    for (let c = 0; c < 7; c++) {
      const ring = r === 0 || r === 6 || c === 0 || c === 6;
      const core = r >= 2 && r <= 4 && c >= 2 && c <= 4;
      if (grid[y + r]?.[x + c] !== (ring || core ? 1 : 0)) return false;
    }
  }
  return true;
}

test('the share link copies to the clipboard and shows as a QR code', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const contextOptions = { permissions: ['clipboard-read', 'clipboard-write'] };
  const { url, pages: [a] } = await openRoom(t, ['A'], { prefix: 'nb', ready: true, contextOptions });
  await typeText(a, 'shared text');

  await a.evaluate(() => navigator.clipboard.writeText('not the link'));
  await a.click('#copy-link');
  await until('[A] #copy-link should say it copied', () => a.textContent('#copy-link'), (s) => s.trim() === 'Copied');
  const copied = await a.evaluate(() => navigator.clipboard.readText());
  assert.equal(copied, await a.evaluate(() => location.href));
  assert.equal(copied, url);
  assert.equal(await a.inputValue('#share-link'), url);

  // The copied link brings someone else into the same notebook.
  const b = await openPerson(t, copied, 'B', { ready: true });
  await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
  await waitForValue(b, 'shared text', { name: 'B' });

  // The QR code: black modules on white, a real QR code's shape (three finder patterns, 17 + 4v
  // modules a side, 4 modules of quiet zone); Escape or Close hides it, and it opens again.
  assert.equal(await a.locator('#qr-dialog').count(), 0, 'the QR dialog shows before it was asked for');
  const qrOpens = async (how) => {
    await a.click('#show-qr');
    await until(`[A] #qr-dialog should show (${how})`, () => a.locator('#qr-dialog').isVisible(), Boolean);
    assert.equal(await a.getAttribute('#show-qr', 'aria-expanded'), 'true');
    const svg = await a.$eval('#qr svg', (el) => el.outerHTML);
    assert.match(svg, /<rect [^>]*fill="#fff"/, 'the QR code has no white background');
    assert.match(svg, /<path [^>]*fill="#000"[^>]* d="M/, 'the QR code has no black path');
    const grid = qrModules(svg);
    const n = grid.length - 8;
    assert.ok(n >= 21 && (n - 17) % 4 === 0, `${n} modules a side is no QR code size`);
    assert.ok(grid[0].every((m) => m === 0) && grid.every((row) => row[0] === 0), 'no quiet zone');
    assert.ok(isFinder(grid, 4, 4) && isFinder(grid, 4 + n - 7, 4) && isFinder(grid, 4, 4 + n - 7), 'finder patterns missing');
    assert.ok(!isFinder(grid, 4 + n - 7, 4 + n - 7), 'a finder pattern in the bottom-right corner');
    return grid;
  };
  const hidden = async (how) => {
    await until(`[A] #qr-dialog should hide (${how})`, () => a.locator('#qr-dialog').count(), (c) => c === 0);
    assert.equal(await a.getAttribute('#show-qr', 'aria-expanded'), 'false');
  };

  const first = await qrOpens('first time');
  await a.keyboard.press('Escape');
  await hidden('Escape');
  await qrOpens('second time');
  await a.locator('#qr-dialog button', { hasText: 'Close' }).click();
  await hidden('Close');
  const third = await qrOpens('third time');
  assert.deepEqual(third, first, 'the QR code changed without the link changing');
  await a.keyboard.press('Escape');
  await hidden('Escape, again');

  // Another room's link is another QR code.
  const other = await openPerson(t, roomUrl(server, newRoomName('nb-other')), 'C', { ready: true });
  await other.click('#show-qr');
  const otherSvg = await other.$eval('#qr svg', (el) => el.outerHTML);
  assert.notDeepEqual(qrModules(otherSvg), first, 'two rooms\' links give the same QR code');
  assertNoPageErrors(a, b, other);
});
