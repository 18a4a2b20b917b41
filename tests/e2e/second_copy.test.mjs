// The notebook's second copy in this browser (src/journal.rs) across tabs and forgetting. A
// room's journal is one tab's at a time; these prove, with a real profile and its origin private
// file system:
//   - when the tab that keeps it closes, another tab of the room takes it over: what that tab
//     typed afterwards comes back when IndexedDB has lost the notebook;
//   - forgetting a notebook another tab has open removes the second copy once that tab closes,
//     and if the start screen was closed first, the link opens the notebook empty all the same:
//     a forgotten notebook is never brought back from this browser.
// Nobody else is in these rooms and the server keeps no copy: what shows comes from this browser.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  serverFor, newRoomName, roomUrl, editorValue, waitForReady, launchProfile, watchPage,
  typeText, waitForSaved, waitForValue, until, openBlankPage, assertNoPageErrors, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';

/** A browser with a profile of its own, closed and removed after the test. */
async function browser(t, name) {
  const userDataDir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-second-copy-'));
  const profile = await launchProfile(userDataDir, name);
  t.after(async () => {
    await profile.context.close().catch(() => {});
    rmSync(userDataDir, { recursive: true, force: true });
  });
  return profile;
}

/** A new tab at `url`, ready to type in; its console lines are kept in `page.said`. */
async function openTab(context, url, name) {
  const page = watchPage(await context.newPage(), { name });
  page.said = [];
  page.on('console', (msg) => page.said.push(msg.text()));
  await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(page, { name });
  return page;
}

/** The names in the origin's journal directory (one per room with a second copy). */
async function journalDirectories(page) {
  return page.evaluate(async () => {
    const root = await navigator.storage.getDirectory();
    const journals = await root.getDirectoryHandle('commonplace-journal', { create: true });
    const names = [];
    for await (const name of journals.keys()) names.push(name);
    return names;
  });
}

/** A notebook typed in and stored by one tab of a browser of its own; no server copy. */
async function storedNotebook(t, prefix, text) {
  const server = await serverFor(t, { args: ['--no-store'] });
  const room = newRoomName(prefix);
  const url = roomUrl(server, room);
  const { context, page } = await browser(t, 'first tab');
  await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForReady(page, { name: 'first tab' });
  await typeText(page, text, { at: 'end' });
  await waitForSaved(page, { name: 'first tab' });
  return { server, room, url, context, page };
}

/** Forgets `room` on the start screen of a new tab; returns that tab. */
async function forgetOnStartScreen(context, server, room) {
  const start = watchPage(await context.newPage(), { name: 'start screen' });
  await start.goto(server.url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await start.waitForSelector(`#notebooks .notebook[data-room="${room}"]`);
  assert.ok((await journalDirectories(start)).includes(directoryOf(room)), 'the notebook has no second copy to remove');
  start.once('dialog', (dialog) => dialog.accept());
  await start.click(`#notebooks .notebook[data-room="${room}"] .forget-notebook`);
  await start.waitForSelector(`#notebooks .notebook[data-room="${room}"]`, { state: 'detached' });
  return start;
}

const forgottenRooms = (page) => page.evaluate(() => localStorage.getItem('commonplace.forgotten'));

const directoryOf = (room) => createHash('sha256').update(room).digest('hex');

async function databases(page) {
  return page.evaluate(async () => (await indexedDB.databases()).map((d) => d.name));
}

test('when the tab keeping the second copy closes, another tab of the notebook takes it over: what it typed afterwards comes back when IndexedDB has lost the notebook', async (t) => {
  const before = 'Typed in the first tab. ';
  const { server, url, room, context, page: first } = await storedNotebook(t, 'takeover', before);

  const second = await openTab(context, url, 'second tab');
  await waitForValue(second, before, { name: 'second tab' });
  assert.ok(second.said.some((line) => line.includes('another tab keeps this notebook')),
    `the second tab did not wait for the first tab's second copy; it said: ${JSON.stringify(second.said)}`);
  await first.close();
  await until('[second tab] the second copy taken over', () => second.said,
    (said) => said.some((line) => line.includes('this tab keeps this notebook\'s second copy now')));
  const after = 'Typed in the second tab after the first closed.';
  await typeText(second, after, { at: 'end' });
  await waitForValue(second, before + after, { name: 'second tab' });
  await waitForSaved(second, { name: 'second tab' });
  assertNoPageErrors(second);
  await second.close();

  // The browser loses the notebook's IndexedDB (as a torn log makes Chromium do: durability.test.mjs).
  const blank = await openBlankPage(context, server);
  await blank.evaluate((name) => new Promise((resolve, reject) => {
    const request = indexedDB.deleteDatabase(name);
    request.onsuccess = resolve;
    request.onerror = () => reject(request.error);
    request.onblocked = () => reject(new Error('a tab still has the database open'));
  }), room);
  await blank.close();

  const back = await openTab(context, url, 'reopened');
  await waitForValue(back, before + after, { name: 'reopened' });
  assert.ok(back.said.some((line) => line.includes('second copy brought it back')),
    `the notebook did not come back from the second copy; the tab said: ${JSON.stringify(back.said)}`);
  assertNoPageErrors(back);
});

test('forgetting a notebook another tab has open removes its second copy once that tab closes; the link then opens it empty', async (t) => {
  const { server, room, url, context, page: open } = await storedNotebook(t, 'forget-held', 'Not to be kept on this browser.');
  const start = await forgetOnStartScreen(context, server, room);

  await open.close();
  await until('[start screen] the second copy removed once the tab closed', () => journalDirectories(start),
    (names) => !names.includes(directoryOf(room)));
  await until('[start screen] the IndexedDB copy deleted', () => databases(start), (names) => !names.includes(room));
  await until('[start screen] the room no longer marked forgotten (nothing left to remove)',
    () => forgottenRooms(start), (json) => json === '[]');

  const again = await openTab(context, url, 'link opened again');
  await waitForSaved(again, { name: 'link opened again' });
  assert.equal(await editorValue(again), '', 'the forgotten notebook came back');
  assertNoPageErrors(start, again);
});

test('a notebook forgotten while another tab had it, the start screen closed first: the link opens it empty all the same', async (t) => {
  const { server, room, url, context, page: open } = await storedNotebook(t, 'forget-marked', 'Not to be kept on this browser either.');
  const start = await forgetOnStartScreen(context, server, room);
  await start.close();
  await open.close();

  const again = await openTab(context, url, 'link opened again');
  await waitForSaved(again, { name: 'link opened again' });
  assert.equal(await editorValue(again), '', 'the forgotten notebook came back');
  assert.equal(await forgottenRooms(again), '[]',
    'the room is still marked forgotten after its second copy started afresh');
  assertNoPageErrors(again);
});
