// Presence and the editor around it: names and who is on which page, others' carets and
// selections drawn at the right character (also a stock Yjs peer's, and ours in Yjs), undo of
// one's own edits only, keyboard shortcuts, and accessibility, small screens and dark mode.
// The real server, headless Chromium, one browser context per person, a fresh room per test.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, browser, openPerson, openRoom, closeUsers, newRoomName, roomUrl, waitForPeers, waitForReady,
  typeText, setCaret, editorValue, editorSelection, waitForValue, waitForConvergence, assertNoPageErrors,
  openYjsPeer, yjsWebrtcBundle, sleep, createPage, DEFAULT_TIMEOUT_MS,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 120_000;
/** Edits further apart than this are separate undo steps. */
const UNDO_GROUP_MS = 500;
/** A closed tab says goodbye on pagehide: others should drop it at once, not after 30 s. */
const GOODBYE_TIMEOUT_MS = 10_000;
/** Bound for each step of making a page with the sidebar's button (createPage). */
const NEW_PAGE_TIMEOUT_MS = 5_000;

setUpFile({ prepare: yjsWebrtcBundle });

// ---- people ------------------------------------------------------------------------------------

/** #people-list as data: [{ client, me, name, page, color }]. */
function people(page) {
  return page.$$eval('#people-list > li.person', (items) => items.map((li) => ({
    client: li.getAttribute('data-client'),
    me: li.getAttribute('data-me'),
    name: li.querySelector('.person-name')?.textContent ?? null,
    page: li.querySelector('.person-page')?.textContent ?? null,
    color: li.querySelector('.swatch') ? getComputedStyle(li.querySelector('.swatch')).backgroundColor : null,
  })));
}

/** Polls #people-list until `check(list)` holds; the failure names `what` and shows the list. */
async function waitForPeople(page, check, what, { timeout = DEFAULT_TIMEOUT_MS, name = 'page' } = {}) {
  const deadline = Date.now() + timeout;
  let list = [];
  for (;;) {
    list = await people(page);
    if (check(list)) return list;
    if (Date.now() > deadline) {
      assert.fail(`[${name}] ${what} within ${timeout} ms; #people-list is ${JSON.stringify(list)}`);
    }
    await sleep(50);
  }
}

/** Sets #my-name as a person does: types it and presses Enter (a change event). */
async function setName(page, name) {
  await page.fill('#my-name', name);
  await page.press('#my-name', 'Enter');
}

/** The data-client of the one person named `name` in `page`'s #people-list, waiting for them. */
async function clientIdOf(page, personName, { me = false, name = 'page' } = {}) {
  const list = await waitForPeople(page, (l) => l.filter((p) => p.name === personName && p.me === String(me)).length === 1,
    `#people-list did not show exactly one ${me ? 'self' : 'other'} named ${JSON.stringify(personName)}`, { name });
  return list.find((p) => p.name === personName).client;
}

// ---- pages -------------------------------------------------------------------------------------

/** Opens the page titled `title` from the sidebar. */
async function openPageTitled(page, title) {
  const button = page.locator('#pages > li.page-item button.page-link', { hasText: title }).first();
  await button.click({ timeout: 5_000 });
  await waitForTitle(page, title);
}

async function waitForTitle(page, title, { name = 'page' } = {}) {
  try {
    await page.waitForFunction((t) => document.querySelector('#page-title')?.textContent === t, title, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`[${name}] #page-title did not become ${JSON.stringify(title)}: it is ${JSON.stringify(await page.textContent('#page-title'))}`);
  }
}

/** data-page of the li.page-item[aria-current="page"]s. */
function currentPages(page) {
  return page.$$eval('#pages > li.page-item[aria-current="page"]', (items) => items.map((li) => li.getAttribute('data-page')));
}

// ---- remote carets -----------------------------------------------------------------------------

/** The remote carets and selections drawn over #editor. */
function remoteCarets(page) {
  return page.evaluate(() => ({
    carets: [...document.querySelectorAll('.remote-caret')].map((el) => ({
      client: el.getAttribute('data-client'),
      index: el.getAttribute('data-index'),
      name: el.querySelector('.remote-caret-name')?.textContent ?? null,
    })),
    selections: [...document.querySelectorAll('.remote-selection')].map((el) => el.getAttribute('data-client')),
  }));
}

/** Waits until `client`'s caret is drawn at UTF-16 offset `index`. */
async function waitForCaret(page, client, index, { name = 'page', timeout = DEFAULT_TIMEOUT_MS } = {}) {
  try {
    await page.waitForSelector(`.remote-caret[data-client="${client}"][data-index="${index}"]`, { state: 'attached', timeout });
  } catch {
    assert.fail(`[${name}] no .remote-caret[data-client="${client}"][data-index="${index}"] within ${timeout} ms; drawn: ${JSON.stringify(await remoteCarets(page))}, #editor is ${JSON.stringify(await editorValue(page))}`);
  }
}

/**
 * Where `client`'s caret is drawn over #editor, against two measures that do not use the app's
 * own mirror: the browser's `document.caretPositionFromPoint` just right of the caret, and the
 * character's place computed from the textarea's box and font (canvas `measureText` of the line
 * up to the offset). Returns { offsetAtPoint, dx, lineOf } for the assertions.
 */
function caretGeometry(page, client) {
  return page.evaluate((id) => {
    const caret = document.querySelector(`.remote-caret[data-client="${id}"]`);
    if (!caret) return { missing: true };
    const index = Number(caret.getAttribute('data-index'));
    const ta = document.querySelector('#editor');
    const box = caret.getBoundingClientRect();
    // The caret is a 2px border centred on the character's left edge.
    const x = box.left + box.width / 2;
    const y = box.top + box.height / 2;
    const hit = document.caretPositionFromPoint(x + 1, y);
    const style = getComputedStyle(ta);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const before = ta.value.slice(0, index);
    const lineNo = before.split('\n').length - 1;
    const column = before.slice(before.lastIndexOf('\n') + 1);
    const rect = ta.getBoundingClientRect();
    const left = rect.left + ta.clientLeft + parseFloat(style.paddingLeft) - ta.scrollLeft;
    const top = rect.top + ta.clientTop + parseFloat(style.paddingTop) - ta.scrollTop;
    const lineHeight = parseFloat(style.lineHeight);
    return {
      index,
      offsetAtPoint: hit && hit.offsetNode === ta ? hit.offset : `not in #editor: ${hit?.offsetNode?.nodeName}`,
      dx: x - (left + ctx.measureText(column).width),
      // Which line box of the textarea the caret's middle is in (wrapping aside: short lines).
      lineOf: Math.floor((y - top) / lineHeight),
      lineNo,
      height: box.height,
      lineHeight,
    };
  }, client);
}

async function assertCaretAt(page, client, index, what) {
  const g = await caretGeometry(page, client);
  assert.ok(!g.missing, `${what}: the caret is not drawn`);
  assert.equal(g.index, index, `${what}: data-index`);
  assert.equal(g.offsetAtPoint, index, `${what}: caretPositionFromPoint just right of the drawn caret is not offset ${index} (${JSON.stringify(g)})`);
  assert.ok(Math.abs(g.dx) <= 2, `${what}: the caret is ${g.dx.toFixed(1)} px off the character's left edge (${JSON.stringify(g)})`);
  assert.equal(g.lineOf, g.lineNo, `${what}: the caret is drawn on line ${g.lineOf}, the character is on line ${g.lineNo} (${JSON.stringify(g)})`);
  assert.ok(g.height > 0.5 * g.lineHeight && g.height <= g.lineHeight + 1, `${what}: caret height ${g.height} vs line height ${g.lineHeight}`);
}

// ---- 1. names and presence ----------------------------------------------------------------------

test('names, who is where, a reload keeps the name, and a closed tab leaves the list at once', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'presence', ready: true });
  await setName(a, 'Ada');
  await setName(b, 'Bob');

  for (const [page, self, other, name] of [[a, 'Ada', 'Bob', 'A'], [b, 'Bob', 'Ada', 'B']]) {
    const list = await waitForPeople(page, (l) => l.length === 2
      && l.some((p) => p.name === self && p.me === 'true' && p.page === ' · Home')
      && l.some((p) => p.name === other && p.me === 'false' && p.page === ' · Home'),
    `#people-list did not show ${self} (me) and ${other}, both on Home`, { name });
    assert.equal(list[0].me, 'true', `[${name}] self is not listed first: ${JSON.stringify(list)}`);
    for (const p of list) assert.match(p.color, /^rgb\(/, `[${name}] ${p.name} has no swatch colour`);
  }
  const ada = (await people(b)).find((p) => p.name === 'Ada');
  assert.equal(ada.client, (await people(a)).find((p) => p.me === 'true').client, 'B and A disagree on A\'s client id');
  const adaColor = ada.color;

  // A reload in the same context: the name is remembered, and B sees Ada once (the old Ada left).
  await a.reload({ waitUntil: 'load' });
  await waitForReady(a, { name: 'A after reload' });
  assert.equal(await a.inputValue('#my-name'), 'Ada', '#my-name after a reload');
  await waitForPeers(a, 1);
  await waitForPeople(b, (l) => l.length === 2 && l.filter((p) => p.name === 'Ada').length === 1 && l.find((p) => p.name === 'Ada').client !== ada.client,
    'B did not see exactly one Ada (the reloaded tab) and Bob', { name: 'B', timeout: GOODBYE_TIMEOUT_MS });
  assert.equal((await people(b)).find((p) => p.name === 'Ada').color, adaColor, 'A\'s colour changed across a reload');

  // A opens another page: B sees where A is.
  await createPage(a, 'Reading list', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  await waitForPeople(b, (l) => l.find((p) => p.name === 'Ada')?.page === ' · Reading list',
    'B did not see Ada on "Reading list"', { name: 'B' });
  await openPageTitled(a, 'Home');
  await waitForPeople(b, (l) => l.find((p) => p.name === 'Ada')?.page === ' · Home',
    'B did not see Ada back on Home', { name: 'B' });
  // A new name shows in B's list at once.
  await setName(a, 'Ada L.');
  await waitForPeople(b, (l) => l.some((p) => p.name === 'Ada L.') && !l.some((p) => p.name === 'Ada'),
    'B did not see Ada rename herself to "Ada L."', { name: 'B' });

  // A closes: the goodbye (pagehide) takes A off B's list long before the 30 s awareness timeout.
  const closedAt = Date.now();
  await closeUsers(a);
  await waitForPeople(b, (l) => l.length === 1 && l[0].name === 'Bob' && l[0].me === 'true',
    `B still listed A ${GOODBYE_TIMEOUT_MS} ms after A's tab closed (no goodbye?)`, { name: 'B', timeout: GOODBYE_TIMEOUT_MS });
  t.diagnostic(`B dropped A ${Date.now() - closedAt} ms after A's context closed`);
  assertNoPageErrors(b);
});

// ---- 2. remote carets ---------------------------------------------------------------------------

test('a remote caret is drawn at the right character, follows concurrent edits, and selections show', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'presence', ready: true });
  await setName(a, 'Ada');
  await setName(b, 'Bob');
  const initial = 'hello world\nsecond line';
  await typeText(a, initial);
  await waitForValue(b, initial, { name: 'B' });
  const adaId = await clientIdOf(b, 'Ada', { name: 'B' });
  const bobId = await clientIdOf(a, 'Bob', { name: 'A' });

  await setCaret(a, 6); // hello |world
  await waitForCaret(b, adaId, 6, { name: 'B' });
  const drawn = await remoteCarets(b);
  assert.deepEqual(drawn.carets, [{ client: adaId, index: '6', name: 'Ada' }], 'B draws exactly A\'s caret, named');
  await assertCaretAt(b, adaId, 6, 'A\'s caret before "world" in B');

  // The second line: the caret goes down a line and back to the left edge.
  await setCaret(a, initial.indexOf('line'));
  await waitForCaret(b, adaId, initial.indexOf('line'), { name: 'B' });
  await assertCaretAt(b, adaId, initial.indexOf('line'), 'A\'s caret before "line" in B');
  await setCaret(a, 6);
  await waitForCaret(b, adaId, 6, { name: 'B' });

  // Both type at once: B "XYZ" at the start, A "!!" at its caret (6).
  await setCaret(b, 0);
  await Promise.all([
    typeText(b, 'XYZ', { delay: 20 }),
    typeText(a, '!!', { delay: 20 }),
  ]);
  const both = 'XYZhello !!world\nsecond line';
  await waitForConvergence([a, b], { until: (v) => v.length === both.length });
  assert.equal(await editorValue(a), both);
  await waitForCaret(b, adaId, 3 + 6 + 2, { name: 'B' });
  await waitForCaret(a, bobId, 3, { name: 'A' });
  await assertCaretAt(b, adaId, 11, 'A\'s caret after its "!!" in B');
  await assertCaretAt(a, bobId, 3, 'B\'s caret after its "XYZ" in A');

  // A idle; B inserts before A's caret: A's caret (as B draws it) moves with its character.
  await setCaret(b, 0);
  await typeText(b, '12345');
  await waitForValue(a, `12345${both}`, { name: 'A' });
  assert.deepEqual(await editorSelection(a), { start: 16, end: 16 }, 'A\'s own caret did not follow B\'s insertion');
  await waitForCaret(b, adaId, 16, { name: 'B' });
  await assertCaretAt(b, adaId, 16, 'A\'s caret in B after B inserted 5 before it');
  // …and an insertion after it leaves it where it is.
  await typeText(b, ' tail', { at: 'end' });
  await waitForValue(a, `12345${both} tail`, { name: 'A' });
  await sleep(300);
  await waitForCaret(b, adaId, 16, { name: 'B' });

  // A selects "world" (forwards): B draws A's selection, and A's caret at its end.
  const text = await editorValue(a);
  const from = text.indexOf('world');
  await a.$eval('#editor', (el, [s, e]) => { el.focus(); el.setSelectionRange(s, e, 'forward'); }, [from, from + 5]);
  await waitForCaret(b, adaId, from + 5, { name: 'B' });
  await b.waitForSelector(`.remote-selection[data-client="${adaId}"]`, { state: 'attached', timeout: 5_000 })
    .catch(async () => assert.fail(`B draws no .remote-selection[data-client="${adaId}"] for A's selection of "world": ${JSON.stringify(await remoteCarets(b))}`));
  const selection = await b.evaluate(({ id, s, e }) => {
    const ta = document.querySelector('#editor');
    const style = getComputedStyle(ta);
    const ctx = document.createElement('canvas').getContext('2d');
    ctx.font = `${style.fontStyle} ${style.fontWeight} ${style.fontSize} ${style.fontFamily}`;
    const rect = ta.getBoundingClientRect();
    const left = rect.left + ta.clientLeft + parseFloat(style.paddingLeft) - ta.scrollLeft;
    const boxes = [...document.querySelectorAll(`.remote-selection[data-client="${id}"]`)].map((el) => el.getBoundingClientRect());
    return {
      count: boxes.length,
      left: Math.min(...boxes.map((r) => r.left)) - (left + ctx.measureText(ta.value.slice(0, s)).width),
      right: Math.max(...boxes.map((r) => r.right)) - (left + ctx.measureText(ta.value.slice(0, e)).width),
    };
  }, { id: adaId, s: from, e: from + 5 });
  assert.equal(selection.count, 1, `A's one-line selection is drawn as ${selection.count} boxes`);
  assert.ok(Math.abs(selection.left) <= 2 && Math.abs(selection.right) <= 2,
    `A's selection of "world" is not drawn over "world" in B: edges off by ${JSON.stringify(selection)} px`);

  // Selected backwards, the caret (head) is at the start.
  await a.$eval('#editor', (el, [s, e]) => el.setSelectionRange(s, e, 'backward'), [from, from + 5]);
  await waitForCaret(b, adaId, from, { name: 'B' });
  // Collapsed: the selection goes.
  await setCaret(a, from);
  try {
    await b.waitForFunction(() => !document.querySelector('.remote-selection'), null, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`A's selection is still drawn in B after A collapsed it: ${JSON.stringify(await remoteCarets(b))}`);
  }
  await waitForCaret(b, adaId, from, { name: 'B' });

  // Carets are drawn on the page they are in only.
  await createPage(a, 'Elsewhere', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  try {
    await b.waitForFunction((id) => !document.querySelector(`.remote-caret[data-client="${id}"]`), adaId, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`B still draws A's caret on Home after A opened another page: ${JSON.stringify(await remoteCarets(b))}`);
  }
  assertNoPageErrors(a, b);
});

// ---- 3. cursors between Commonplace and stock Yjs ------------------------------------------------

test('cursors cross between Commonplace and a stock Yjs + y-webrtc peer, both ways', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const room = newRoomName('presence-yjs');
  const a = await openPerson(t, roomUrl(server, room), 'A', { ready: true });
  const y = await openYjsPeer(browser, server, room, { name: 'Y' });
  t.after(() => y.close());
  await Promise.all([waitForPeers(a, 1, { timeout: 20_000 }), y.waitForPeers(1, { timeout: 20_000 })]);
  await setName(a, 'Ada');

  // Our caret in an empty Home: `{ tname: "page" }`-style, index 0 of doc.getText('page').
  const aId = Number(await clientIdOf(a, 'Ada', { me: true, name: 'A' }));
  const yCursor = (id) => y.page.evaluate((client) => {
    const { Y, doc, provider } = window.__yjs;
    const state = provider.awareness.getStates().get(client);
    if (!state?.cursor) return { state: state ?? null };
    const resolve = (json) => {
      const abs = Y.createAbsolutePositionFromRelativePosition(Y.createRelativePositionFromJSON(json), doc);
      if (!abs) return null;
      let type = 'other';
      if (abs.type === doc.getText('page')) type = 'page';
      else {
        for (const [id, page] of doc.getMap('pages')) if (page.get('body') === abs.type) type = `pages/${id}`;
      }
      return { index: abs.index, type };
    };
    return { name: state.user?.name ?? null, color: state.user?.color ?? null, page: state.page ?? null, anchor: resolve(state.cursor.anchor), head: resolve(state.cursor.head) };
  }, id);
  async function waitForYCursor(check, what) {
    const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
    for (;;) {
      const seen = await yCursor(aId);
      if (check(seen)) return seen;
      if (Date.now() > deadline) assert.fail(`[Y] ${what} within ${DEFAULT_TIMEOUT_MS} ms; A's awareness state in Y resolves to ${JSON.stringify(seen)}`);
      await sleep(50);
    }
  }
  await setCaret(a, 0);
  await waitForYCursor((s) => s.name === 'Ada' && s.head?.type === 'page' && s.head.index === 0 && s.page === 'home',
    'A\'s caret in the empty Home did not resolve to index 0 of doc.getText("page")');

  await typeText(a, '0123456789');
  await y.waitForText('0123456789');

  // The Yjs peer says who it is and where its caret is, as y-codemirror & co do.
  const yId = await y.page.evaluate(() => {
    const { Y, provider, text, doc } = window.__yjs;
    provider.awareness.setLocalStateField('user', { name: 'Yjs user', color: '#ff0000' });
    const at = Y.createRelativePositionFromTypeIndex(text, 3);
    provider.awareness.setLocalStateField('cursor', { anchor: at, head: at });
    return String(doc.clientID);
  });
  await waitForPeople(a, (l) => l.some((p) => p.client === yId && p.name === 'Yjs user' && p.me === 'false' && p.color === 'rgb(255, 0, 0)' && p.page === null),
    'A did not list the Yjs peer as "Yjs user" (red, no page)', { name: 'A' });
  await waitForCaret(a, yId, 3, { name: 'A' });
  assert.deepEqual((await remoteCarets(a)).carets, [{ client: yId, index: '3', name: 'Yjs user' }]);
  await assertCaretAt(a, yId, 3, 'the Yjs peer\'s caret in A');

  // The Yjs peer's caret follows A's insertion before it, as a relative position does.
  await typeText(a, 'ab', { at: 0 });
  await y.waitForText('ab0123456789');
  await waitForCaret(a, yId, 5, { name: 'A' });
  // And a selection made in Yjs shows.
  await y.page.evaluate(() => {
    const { Y, provider, text } = window.__yjs;
    provider.awareness.setLocalStateField('cursor', {
      anchor: Y.createRelativePositionFromTypeIndex(text, 2),
      head: Y.createRelativePositionFromTypeIndex(text, 6),
    });
  });
  await waitForCaret(a, yId, 6, { name: 'A' });
  await a.waitForSelector('.remote-selection', { state: 'attached', timeout: 5_000 })
    .catch(() => assert.fail('A draws no .remote-selection for the Yjs peer\'s selection 2..6'));

  // Ours in Yjs: caret at 5 of Home.
  await setCaret(a, 5);
  await waitForYCursor((s) => s.head?.type === 'page' && s.head.index === 5 && s.anchor?.index === 5,
    'A\'s caret at 5 did not resolve to index 5 of doc.getText("page") in Y');
  // A selection (anchor 2, head 7) and, with A idle, the Yjs peer inserting before it.
  await a.$eval('#editor', (el) => el.setSelectionRange(2, 7, 'forward'));
  await waitForYCursor((s) => s.anchor?.index === 2 && s.head?.index === 7 && s.head.type === 'page', 'A\'s selection 2..7 did not resolve in Y');
  await y.insert('>>', 0);
  await waitForValue(a, '>>ab0123456789', { name: 'A' });
  await waitForYCursor((s) => s.anchor?.index === 4 && s.head?.index === 9, 'A\'s selection did not move by 2 in Y after Y\'s insertion before it');

  // In a page of its own (a Y.Text nested in the "pages" map), empty and then not.
  const notes = await createPage(a, 'Notes', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  await setCaret(a, 0);
  await waitForYCursor((s) => s.head?.type === `pages/${notes}` && s.head.index === 0 && s.page === notes,
    `A's caret in the empty page ${notes} did not resolve to index 0 of pages.get(${notes}).get("body")`);
  await typeText(a, 'abc');
  await waitForYCursor((s) => s.head?.type === `pages/${notes}` && s.head.index === 3,
    `A's caret after "abc" in page ${notes} did not resolve to index 3 of its body`);
  // The Yjs peer's caret is in Home: not drawn over Notes.
  try {
    await a.waitForFunction(() => !document.querySelector('.remote-caret'), null, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`A draws the Yjs peer's Home caret over Notes: ${JSON.stringify(await remoteCarets(a))}`);
  }
  assertNoPageErrors(a);
});

// ---- 4. undo ------------------------------------------------------------------------------------

test('undo takes back my own edits on the open page only, never a peer\'s; redo brings them back', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'presence', ready: true });
  const both = (expected) => Promise.all([waitForValue(a, expected, { name: 'A' }), waitForValue(b, expected, { name: 'B' })]);

  await typeText(a, 'mine ');
  await sleep(UNDO_GROUP_MS + 100);
  await waitForValue(b, 'mine ', { name: 'B' });
  await typeText(b, 'theirs', { at: 'end' });
  await both('mine theirs');

  await a.focus('#editor');
  await a.keyboard.press('Control+z');
  await both('theirs');
  await a.keyboard.press('Control+Shift+z');
  await both('mine theirs');
  await a.keyboard.press('Control+z');
  await both('theirs');
  await a.keyboard.press('Control+y');
  await both('mine theirs');
  // Nothing left to redo: another redo changes nothing.
  await a.keyboard.press('Control+y');
  await sleep(400);
  assert.equal(await editorValue(a), 'mine theirs', 'a redo with nothing to redo changed A');

  // Undo history is per page: A's later edit on "Second" is not what Ctrl+Z on Home takes back.
  await createPage(a, 'Second', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  await typeText(a, 'page two');
  await sleep(UNDO_GROUP_MS + 100);
  await openPageTitled(a, 'Home');
  await waitForValue(a, 'mine theirs', { name: 'A' });
  await a.focus('#editor');
  await a.keyboard.press('Control+z');
  await both('theirs');
  await openPageTitled(a, 'Second');
  await waitForValue(a, 'page two', { name: 'A on Second' });
  await openPageTitled(b, 'Second');
  await waitForValue(b, 'page two', { name: 'B on Second' });

  // B made no edit on Second: B's Ctrl+Z there changes nothing, for anyone.
  await b.focus('#editor');
  await b.keyboard.press('Control+z');
  await sleep(700);
  assert.equal(await editorValue(b), 'page two', 'B\'s Ctrl+Z on a page B never edited changed it');
  assert.equal(await editorValue(a), 'page two', 'B\'s Ctrl+Z on a page B never edited changed it for A');
  // A's history of Second survived the visit to Home.
  await a.focus('#editor');
  await a.keyboard.press('Control+z');
  await both('');
  await a.keyboard.press('Control+Shift+z');
  await both('page two');

  // Typing after an undo starts a new history: a pause, then the grouping of fast typing.
  await typeText(a, ' one', { at: 'end' });
  await sleep(UNDO_GROUP_MS + 100);
  await typeText(a, ' two', { at: 'end' });
  await both('page two one two');
  await a.keyboard.press('Control+z');
  await both('page two one');
  await a.keyboard.press('Control+z');
  await both('page two');
  assertNoPageErrors(a, b);
});

test('the browser\'s own undo (historyUndo, execCommand) never desyncs the editor from its peers', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'presence', ready: true });
  const both = (expected) => Promise.all([waitForValue(a, expected, { name: 'A' }), waitForValue(b, expected, { name: 'B' })]);
  /** Both editors equal and staying so for a moment; returns the text. */
  async function settled() {
    const text = await waitForConvergence([a, b]);
    await sleep(500);
    const again = await Promise.all([editorValue(a), editorValue(b)]);
    assert.deepEqual(again, [text, text], `A and B drifted apart after converging on ${JSON.stringify(text)}`);
    return text;
  }

  await typeText(b, 'theirs');
  await waitForValue(a, 'theirs', { name: 'A' });
  await typeText(a, ' abc', { at: 'end' });
  await both('theirs abc');
  await sleep(UNDO_GROUP_MS + 100);

  // An undo from the browser's menus arrives as a cancelable beforeinput "historyUndo": the app
  // takes it as its own undo (of A's edit only) instead of the textarea's native one.
  const dispatch = (inputType) => a.$eval('#editor', (el, type) => {
    el.focus();
    return el.dispatchEvent(new InputEvent('beforeinput', { inputType: type, bubbles: true, cancelable: true }));
  }, inputType);
  assert.equal(await dispatch('historyUndo'), false, 'beforeinput historyUndo was not cancelled');
  await both('theirs');
  assert.equal(await dispatch('historyRedo'), false, 'beforeinput historyRedo was not cancelled');
  await both('theirs abc');

  // The textarea's native undo (document.execCommand, no beforeinput): whatever it does to A's
  // text, B must end up with the same, and B's text must survive it.
  await typeText(b, 'XYZ ', { at: 0 });
  await both('XYZ theirs abc');
  const native = await a.$eval('#editor', (el) => { el.focus(); return document.execCommand('undo'); });
  const afterUndo = await settled();
  t.diagnostic(`execCommand('undo') returned ${native}; both editors now ${JSON.stringify(afterUndo)}`);
  assert.ok(afterUndo.includes('XYZ') && afterUndo.includes('theirs'), `A's native undo removed B's text: ${JSON.stringify(afterUndo)}`);
  await a.$eval('#editor', (el) => { el.focus(); return document.execCommand('redo'); });
  const afterRedo = await settled();
  assert.ok(afterRedo.includes('XYZ') && afterRedo.includes('theirs'), `A's native redo removed B's text: ${JSON.stringify(afterRedo)}`);

  // Straight after typing, before anything from B arrives, the native undo has something to
  // take back: the textarea changes under the app, which must pass that on as an edit.
  const typedThenUndone = await a.evaluate(() => {
    const el = document.querySelector('#editor');
    el.focus();
    el.setSelectionRange(el.value.length, el.value.length);
    document.execCommand('insertText', false, ' qq');
    const typed = el.value;
    document.execCommand('undo');
    return { typed, undone: el.value };
  });
  t.diagnostic(`execCommand insertText then undo: ${JSON.stringify(typedThenUndone)}`);
  assert.ok(typedThenUndone.typed.endsWith(' qq') && !typedThenUndone.undone.endsWith(' qq'),
    `the premise failed: Chromium's native undo did not take back " qq" (${JSON.stringify(typedThenUndone)})`);
  const afterQq = await settled();
  assert.equal(afterQq, typedThenUndone.undone, 'B did not end up with what A\'s native undo left');
  assert.ok(afterQq.includes('XYZ') && afterQq.includes('theirs'), `A's native undo removed B's text: ${JSON.stringify(afterQq)}`);

  // And the app's own undo still works afterwards, and still spares B's text.
  await typeText(a, '!', { at: 'end' });
  await waitForValue(b, `${afterQq}!`, { name: 'B' });
  await a.keyboard.press('Control+z');
  const final = await settled();
  assert.ok(final.includes('XYZ') && final.includes('theirs'), `Ctrl+Z after a native undo removed B's text: ${JSON.stringify(final)}`);
  assert.ok(!final.endsWith('!'), `Ctrl+Z did not undo A's "!": ${JSON.stringify(final)}`);
  assertNoPageErrors(a, b);
});

// ---- 5. keyboard shortcuts ----------------------------------------------------------------------

test('keyboard shortcuts: Alt+N new page, Alt+Up/Down previous/next page, Ctrl+K search, Alt+E editor', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = roomUrl(server, newRoomName('presence-keys'));
  const a = await openPerson(t, url, 'A', { ready: true });
  await typeText(a, 'home text');
  const pageIds = () => a.$$eval('#pages > li.page-item', (items) => items.map((li) => li.getAttribute('data-page')));
  const where = async () => ({ title: await a.textContent('#page-title'), current: await currentPages(a), value: await editorValue(a) });
  assert.deepEqual(await pageIds(), ['home']);
  // Each shortcut replaces the browser's own (Ctrl+K is Chrome's search box): its keydown must
  // come out default-prevented (seen by a listener on window, after the app's on document).
  await a.evaluate(() => {
    window.__shortcuts = [];
    window.addEventListener('keydown', (e) => {
      if ((e.altKey || e.ctrlKey) && !['Alt', 'Control'].includes(e.key)) {
        window.__shortcuts.push({ key: `${e.ctrlKey ? 'Control+' : ''}${e.altKey ? 'Alt+' : ''}${e.key}`, prevented: e.defaultPrevented });
      }
    });
  });

  // Alt+N from the editor: a new page, opened, and no "n" typed anywhere.
  await a.focus('#editor');
  await a.keyboard.press('Alt+n');
  try {
    await a.waitForFunction(() => document.querySelectorAll('#pages > li.page-item').length === 2, null, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`Alt+N made no page: pages are ${JSON.stringify(await pageIds())}`);
  }
  const [, first] = await pageIds();
  await waitForTitle(a, 'Untitled');
  assert.deepEqual(await where(), { title: 'Untitled', current: [first], value: '' }, 'after Alt+N');

  // Alt+N from outside any field.
  await a.evaluate(() => document.activeElement?.blur());
  await a.keyboard.press('Alt+n');
  try {
    await a.waitForFunction(() => document.querySelectorAll('#pages > li.page-item').length === 3, null, { timeout: 5_000, polling: 20 });
  } catch {
    assert.fail(`Alt+N with nothing focused made no page: pages are ${JSON.stringify(await pageIds())}`);
  }
  const [, , second] = await pageIds();
  await a.waitForFunction((id) => document.querySelector(`#pages > li.page-item[data-page="${id}"]`)?.getAttribute('aria-current') === 'page', second, { timeout: 5_000 })
    .catch(async () => assert.fail(`the second new page was not opened: ${JSON.stringify(await where())}`));
  await typeText(a, 'third page');

  const step = async (key, id, title, value) => {
    await a.keyboard.press(key);
    try {
      await a.waitForFunction((want) => document.querySelector(`#pages > li.page-item[data-page="${want}"]`)?.getAttribute('aria-current') === 'page',
        id, { timeout: 5_000, polling: 20 });
    } catch {
      assert.fail(`${key} did not open page ${id}: ${JSON.stringify(await where())}`);
    }
    await waitForTitle(a, title);
    assert.deepEqual(await where(), { title, current: [id], value }, `after ${key}`);
  };
  await a.focus('#editor');
  await step('Alt+ArrowUp', first, 'Untitled', '');
  await step('Alt+ArrowUp', 'home', 'Home', 'home text');
  await step('Alt+ArrowUp', 'home', 'Home', 'home text'); // the first page stays
  await step('Alt+ArrowDown', first, 'Untitled', '');
  await step('Alt+ArrowDown', second, 'Untitled', 'third page');
  await step('Alt+ArrowDown', second, 'Untitled', 'third page'); // the last page stays

  // Ctrl+K: the search field; Alt+E: back to the editor.
  await a.focus('#editor');
  await a.keyboard.press('Control+k');
  await a.waitForFunction(() => document.activeElement?.id === 'search', null, { timeout: 5_000 })
    .catch(async () => assert.fail(`Ctrl+K did not focus #search: focus is on ${await a.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`));
  await a.keyboard.type('home');
  await a.waitForSelector('#search-results .search-hit[data-page="home"]', { timeout: 5_000 })
    .catch(() => assert.fail('typing in #search after Ctrl+K found no hit on Home'));
  await a.keyboard.press('Alt+e');
  await a.waitForFunction(() => document.activeElement?.id === 'editor', null, { timeout: 5_000 })
    .catch(async () => assert.fail(`Alt+E did not focus #editor: focus is on ${await a.evaluate(() => document.activeElement?.outerHTML.slice(0, 80))}`));
  assert.equal(await editorValue(a), 'third page', 'the shortcuts typed into the editor');
  const seen = await a.evaluate(() => window.__shortcuts);
  assert.equal(seen.length, 10, `expected 10 shortcut keydowns, saw ${JSON.stringify(seen)}`);
  assert.deepEqual(seen.filter((k) => !k.prevented), [], 'shortcuts whose keydown the app did not prevent (the browser acts on them too)');
  assertNoPageErrors(a);
});

// ---- 6. accessibility and layout ----------------------------------------------------------------

/**
 * Controls without an accessible name: every button, input (but hidden ones), textarea and
 * select, named by aria-labelledby, aria-label, a <label> (wrapping or for=) or, for buttons,
 * their text.
 */
function unnamedControls(page) {
  return page.evaluate(() => {
    const text = (el) => (el?.textContent ?? '').replace(/\s+/g, ' ').trim();
    const nameOf = (el) => {
      const ids = el.getAttribute('aria-labelledby');
      if (ids) {
        const named = ids.split(/\s+/).map((id) => text(document.getElementById(id))).join(' ').trim();
        if (named) return named;
      }
      const label = el.getAttribute('aria-label')?.trim();
      if (label) return label;
      const labels = [...(el.labels ?? [])].map(text).join(' ').trim();
      if (labels) return labels;
      if (el.tagName === 'BUTTON') return text(el);
      return '';
    };
    return [...document.querySelectorAll('button, input, textarea, select')]
      .filter((el) => el.type !== 'hidden')
      .map((el) => ({ el: el.outerHTML.slice(0, 160), name: nameOf(el) }))
      .filter((c) => !c.name)
      .map((c) => c.el);
  });
}

/** Controls Chromium's own accessibility tree gives no name (a second opinion). */
async function unnamedInAxTree(page) {
  const cdp = await page.context().newCDPSession(page);
  try {
    const { nodes } = await cdp.send('Accessibility.getFullAXTree');
    const roles = new Set(['button', 'textbox', 'searchbox', 'combobox', 'checkbox', 'radio', 'slider', 'spinbutton', 'listbox', 'switch']);
    return nodes.filter((n) => !n.ignored && roles.has(n.role?.value) && !String(n.name?.value ?? '').trim())
      .map((n) => `${n.role.value} (backend node ${n.backendDOMNodeId})`);
  } finally {
    await cdp.detach().catch(() => {});
  }
}

async function assertAllNamed(page, state) {
  assert.deepEqual(await unnamedControls(page), [], `controls without an accessible name (${state})`);
  assert.deepEqual(await unnamedInAxTree(page), [], `controls Chromium's accessibility tree leaves unnamed (${state})`);
}

/** WCAG contrast ratio of an element's text colour against what is behind it. */
function contrast(page, selector) {
  return page.$eval(selector, (el) => {
    const parse = (c) => {
      const m = c.match(/rgba?\(([^)]+)\)/);
      if (!m) return null;
      const [r, g, b, a = 1] = m[1].split(/[ ,/]+/).filter(Boolean).map(Number);
      return [r, g, b, a];
    };
    // The background: composite the ancestors' backgrounds over white... from the root down.
    const layers = [];
    for (let node = el; node; node = node.parentElement) layers.push(parse(getComputedStyle(node).backgroundColor));
    let bg = [255, 255, 255];
    for (const layer of layers.reverse()) {
      if (!layer) continue;
      const [r, g, b, a] = layer;
      bg = [r * a + bg[0] * (1 - a), g * a + bg[1] * (1 - a), b * a + bg[2] * (1 - a)];
    }
    const [fr, fg, fb, fa] = parse(getComputedStyle(el).color);
    const fgc = [fr * fa + bg[0] * (1 - fa), fg * fa + bg[1] * (1 - fa), fb * fa + bg[2] * (1 - fa)];
    const lum = (rgb) => {
      const [r, g, b] = rgb.map((v) => {
        const s = v / 255;
        return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4;
      });
      return 0.2126 * r + 0.7152 * g + 0.0722 * b;
    };
    const [l1, l2] = [lum(fgc), lum(bg)].sort((x, y) => y - x);
    return { ratio: (l1 + 0.05) / (l2 + 0.05), color: getComputedStyle(el).color, background: `rgb(${bg.map(Math.round).join(', ')})` };
  });
}

test('every control has an accessible name, in every state of the sidebar', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const { pages: [a, b] } = await openRoom(t, ['A', 'B'], { prefix: 'presence', ready: true });
  await assertAllNamed(a, 'a fresh room with a peer');

  // The rename field, the shortcuts list, search results and the QR dialog open.
  await a.click('#pages > li.page-item[data-page="home"] button.rename-page');
  await a.waitForSelector('input.page-title-input', { timeout: 5_000 });
  await assertAllNamed(a, 'renaming Home');
  await a.keyboard.press('Escape');
  await a.click('details.shortcuts > summary');
  await a.click('#show-qr');
  await a.waitForSelector('#qr-dialog', { timeout: 5_000 });
  await assertAllNamed(a, 'shortcuts and QR code open');
  await a.keyboard.press('Escape');

  // A page renamed to nothing that links to Home: in the page list, search hits and backlinks.
  await typeText(a, 'welcome');
  await createPage(a, 'Linker', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  await typeText(a, 'see [[Home]] for the welcome');
  await a.click('#pages > li.page-item[aria-current="page"] button.rename-page');
  await a.waitForSelector('input.page-title-input:focus', { timeout: 5_000 });
  await a.keyboard.press('Control+a');
  await a.keyboard.press('Backspace');
  await a.keyboard.press('Enter');
  await waitForTitle(a, 'Untitled');
  await openPageTitled(a, 'Home');
  await a.waitForSelector('#backlinks button.backlink', { timeout: 5_000 })
    .catch(() => assert.fail('Home shows no backlink from the page linking to it'));
  await a.fill('#search', 'welcome');
  await a.waitForSelector('#search-results .search-hit', { timeout: 5_000 })
    .catch(() => assert.fail('searching "welcome" found nothing'));
  await assertAllNamed(a, 'an untitled page in the page list, search results and backlinks');
  await assertAllNamed(b, 'the peer, after all that');
  assertNoPageErrors(a, b);
});

test('a phone-sized window has no sideways scroll and a usable editor', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = roomUrl(server, newRoomName('presence-small'));
  const a = await openPerson(t, url, 'A');
  await a.setViewportSize({ width: 375, height: 700 });
  await waitForReady(a, { name: 'A' });
  // Long unbroken words where they could push the page wider: a name, a page title, the text.
  await setName(a, 'Bartholomew-Montgomery-Featherstonehaugh');
  await createPage(a, 'A-rather-long-page-title-without-any-spaces-in-it', { name: 'A', timeout: NEW_PAGE_TIMEOUT_MS });
  const long = `https://example.org/${'x'.repeat(120)}`;
  await typeText(a, `${long}\n\n# ${'Heading'.repeat(10)}\n`);
  await a.waitForFunction(() => document.querySelector('#preview')?.textContent.includes('HeadingHeading'), null, { timeout: 5_000 })
    .catch(() => assert.fail('the preview did not render the text'));

  const layout = await a.evaluate(() => {
    const box = (sel) => {
      const r = document.querySelector(sel)?.getBoundingClientRect();
      return r && { left: r.left, right: r.right, top: r.top + scrollY, bottom: r.bottom + scrollY, width: r.width, height: r.height };
    };
    const wide = [...document.querySelectorAll('body *')]
      .filter((el) => el.getBoundingClientRect().right > innerWidth + 0.5 && getComputedStyle(el).visibility !== 'hidden'
        && !el.closest('.caret-overlay') && el.getClientRects().length)
      .map((el) => `${el.tagName.toLowerCase()}${el.id ? `#${el.id}` : ''}.${[...el.classList].join('.')} right=${el.getBoundingClientRect().right.toFixed(0)}`);
    return {
      scrollWidth: document.scrollingElement.scrollWidth,
      innerWidth,
      wide: wide.slice(0, 10),
      editor: box('#editor'),
      main: box('main.page'),
      sidebar: box('#sidebar'),
    };
  });
  assert.ok(layout.scrollWidth <= layout.innerWidth,
    `the page scrolls sideways at 375 px: scrollWidth ${layout.scrollWidth} > ${layout.innerWidth}; too wide: ${JSON.stringify(layout.wide)}`);
  const { editor } = layout;
  assert.ok(editor.left >= 0 && editor.right <= 375, `#editor sticks out of the window: ${JSON.stringify(editor)}`);
  assert.ok(editor.width >= 300, `#editor is too narrow at 375 px: ${JSON.stringify(editor)}`);
  assert.ok(editor.height >= 150, `#editor is too short at 375 px: ${JSON.stringify(editor)}`);
  assert.ok(layout.sidebar.top >= layout.main.bottom - 1, `the sidebar is not below the page at 375 px: ${JSON.stringify(layout)}`);

  // Usable: tap it and type.
  await a.locator('#editor').click({ position: { x: 20, y: 10 }, timeout: 5_000 });
  await a.keyboard.press('Control+End');
  await a.keyboard.type('typed on a phone');
  assert.ok((await editorValue(a)).endsWith('typed on a phone'), 'typing into #editor at 375 px did not land in it');
  assert.equal(await a.evaluate(() => document.scrollingElement.scrollWidth <= innerWidth), true, 'typing made the page scroll sideways');
  assertNoPageErrors(a);
});

test('dark mode follows the system, with readable text', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const url = roomUrl(server, newRoomName('presence-dark'));
  const a = await openPerson(t, url, 'A', { ready: true });
  await typeText(a, 'Some **text**');

  const measure = async () => ({
    bodyBg: await a.$eval('body', (el) => getComputedStyle(el).backgroundColor),
    body: await contrast(a, 'body'),
    editor: await contrast(a, '#editor'),
    muted: await contrast(a, '#people-list .muted'),
    title: await contrast(a, '#page-title'),
  });
  await a.emulateMedia({ colorScheme: 'light' });
  const light = await measure();
  await a.emulateMedia({ colorScheme: 'dark' });
  const dark = await measure();
  t.diagnostic(`light ${JSON.stringify(light)}`);
  t.diagnostic(`dark ${JSON.stringify(dark)}`);
  assert.notEqual(dark.bodyBg, light.bodyBg, 'the body background is the same in light and dark mode');
  for (const [mode, m] of [['light', light], ['dark', dark]]) {
    for (const part of ['body', 'editor', 'muted', 'title']) {
      assert.ok(m[part].ratio > 4.5, `${mode} mode: ${part} text contrast ${m[part].ratio.toFixed(2)} (${m[part].color} on ${m[part].background}) is not above 4.5`);
    }
  }
  // Dark means dark: the background is darker than the text.
  const luminance = (rgb) => rgb.match(/\d+/g).slice(0, 3).map(Number).reduce((s, v) => s + v, 0);
  assert.ok(luminance(dark.bodyBg) < luminance(dark.body.color), `dark mode's background ${dark.bodyBg} is lighter than its text ${dark.body.color}`);
  assertNoPageErrors(a);
});
