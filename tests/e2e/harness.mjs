// Helpers for Commonplace's browser tests: the real server binary, headless Chromium, one browser
// context per simulated person. A test file calls setUpFile() once for a server and a browser that
// all its tests share (the exported `server` and `browser`); benchmark scripts, which are not
// node:test files, use withServerAndBrowser(). Every wait is bounded and says what it was waiting
// for.
//
// Needs `trunk build --release` (dist/) and `cargo build --release -p commonplace-server` first;
// scripts/test does both.

import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import os from 'node:os';
import path from 'node:path';
import { after, before } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
// E2E_DIST_DIR serves another build of the app (e.g. an older one, to see a test fail against it).
export const DIST_DIR = process.env.E2E_DIST_DIR ? path.resolve(process.env.E2E_DIST_DIR) : path.join(REPO_ROOT, 'dist');
export const SERVER_BIN = path.join(
  process.env.CARGO_TARGET_DIR ? path.resolve(REPO_ROOT, process.env.CARGO_TARGET_DIR) : path.join(REPO_ROOT, 'target'),
  'release',
  'commonplace-server',
);
export const CHROMIUM_PATH = process.env.CHROMIUM_PATH || '/usr/bin/chromium';

// Quiet, offline, loopback-only Chromium. WebRTC host candidates are plain local addresses
// (no mDNS names, so no multicast look-ups), and loopback candidates are allowed.
export const CHROMIUM_ARGS = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-features=WebRtcHideLocalIpsWithMdns',
  '--allow-loopback-in-peer-connection',
];

const SERVER_START_TIMEOUT_MS = 20_000;
const SERVER_STOP_TIMEOUT_MS = 5_000;
export const APP_LOAD_TIMEOUT_MS = 20_000;
export const DEFAULT_TIMEOUT_MS = 15_000;

const verbose = !!process.env.E2E_VERBOSE;
const log = (line) => process.stderr.write(`${line}\n`);

/** Resolves after `ms` milliseconds. */
export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A fresh room name, unique per call. */
export function newRoomName(prefix = 'e2e') {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** `<origin>/#room=<name>` for a started server. */
export function roomUrl(server, room) {
  return new URL(`#room=${encodeURIComponent(room)}`, server.url).href;
}

/** Starts a server for one test, stopped after it (stopping twice is fine). */
export async function serverFor(t, options) {
  const server = await startServer(options);
  t.after(() => server.stop());
  return server;
}

/**
 * Starts target/release/commonplace-server on a free loopback port, serving dist/.
 * Resolves once it prints "Commonplace is running: open http://ADDR:PORT/". `port` picks the port
 * (e.g. to bring a stopped server back at the same address); `stop()` shuts it down cleanly,
 * `kill()` abruptly. `data` is the store's folder (`--data`); by default each server gets a new
 * one (a store folder takes one server at a time), removed once the server has exited.
 * @returns {Promise<{url: string, port: number, data: string, output: () => string, stop: () => Promise<void>, kill: () => Promise<void>}>}
 */
export async function startServer({ args = [], port = 0, data } = {}) {
  for (const [what, p] of [['server binary', SERVER_BIN], ['dist/index.html', path.join(DIST_DIR, 'index.html')]]) {
    if (!existsSync(p)) throw new Error(`${what} missing at ${p}: run scripts/test (or trunk build --release and cargo build --release -p commonplace-server)`);
  }
  const dataDir = data ?? mkdtempSync(path.join(os.tmpdir(), 'commonplace-store-'));
  const removeData = () => { if (data === undefined) rmSync(dataDir, { recursive: true, force: true }); };
  const child = spawn(SERVER_BIN, ['--port', String(port), '--bind', '127.0.0.1', '--dist', DIST_DIR, '--data', dataDir, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { RUST_LOG: 'warn', ...process.env },
  });
  let output = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
    removeData();
    resolve(exited);
  }));

  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`server printed no "Commonplace is running: open …" line within ${SERVER_START_TIMEOUT_MS} ms; output:\n${output}`));
    }, SERVER_START_TIMEOUT_MS);
    const onData = (chunk) => {
      const text = chunk.toString();
      output += text;
      if (verbose) process.stderr.write(`[server] ${text}`);
      const m = output.match(/Commonplace is running: open (https?:\/\/\S+)/);
      if (m) {
        clearTimeout(timer);
        resolve(loopbackUrl(m[1]));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start ${SERVER_BIN}: ${err.message}`)); });
    exitPromise.then(({ code, signal }) => {
      clearTimeout(timer);
      reject(new Error(`server exited before it was ready (code ${code}, signal ${signal}); output:\n${output}`));
    });
  });

  return {
    url,
    port: Number(new URL(url).port),
    data: dataDir,
    output: () => output,
    /** Kills the server abruptly (SIGKILL: no clean shutdown, sockets reset). */
    async kill() {
      if (exited) return;
      child.kill('SIGKILL');
      await exitPromise;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const timeout = new Promise((resolve) => setTimeout(() => resolve('timeout'), SERVER_STOP_TIMEOUT_MS));
      if ((await Promise.race([exitPromise, timeout])) === 'timeout') {
        log(`server did not exit within ${SERVER_STOP_TIMEOUT_MS} ms of SIGTERM; killing it`);
        child.kill('SIGKILL');
        await exitPromise;
      }
    },
  };
}

// Tests only ever talk to this machine: if the server reports a wildcard or another address,
// use 127.0.0.1 with the same port (it was started with --bind 127.0.0.1).
function loopbackUrl(printed) {
  const u = new URL(printed);
  if (!['127.0.0.1', 'localhost', '[::1]'].includes(u.hostname)) u.hostname = '127.0.0.1';
  return u.href;
}

/** Headless Debian Chromium driven by playwright-core (never a downloaded browser). */
export async function launchBrowser() {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: run scripts/setup --browser`);
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * The same Chromium with its profile on disk at `userDataDir` (a persistent context: what
 * survives a browser restart, and what Chromium counts as installable, need one).
 */
export async function launchPersistentBrowser(userDataDir) {
  if (!existsSync(CHROMIUM_PATH)) throw new Error(`no Chromium at ${CHROMIUM_PATH}: run scripts/setup --browser`);
  return chromium.launchPersistentContext(userDataDir, { executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS });
}

/**
 * Starts a server and a browser side by side (either can be left out with `false`); if one fails,
 * the other is shut down again and the failure thrown. Returns { server, browser } (null for one
 * left out).
 */
export async function startServerAndBrowser({ server = true, browser = true, serverArgs = [] } = {}) {
  const [s, b] = await Promise.allSettled([server ? startServer({ args: serverArgs }) : null, browser ? launchBrowser() : null]);
  if (s.status === 'rejected' || b.status === 'rejected') {
    await b.value?.close().catch(() => {});
    await s.value?.stop();
    throw s.status === 'rejected' ? s.reason : b.reason;
  }
  return { server: s.value, browser: b.value };
}

/** Closes what startServerAndBrowser started: the browser, then the server. */
export async function stopServerAndBrowser({ server, browser }) {
  await browser?.close();
  await server?.stop();
}

/**
 * For scripts: runs `fn({ server, browser })` with a server (given `serverArgs`) and a browser
 * started for it, stopped after.
 */
export async function withServerAndBrowser(fn, { serverArgs = [] } = {}) {
  const started = await startServerAndBrowser({ serverArgs });
  try {
    return await fn(started);
  } finally {
    await stopServerAndBrowser(started);
  }
}

// ---- the fixture a test file shares --------------------------------------------------------------

let sharedServer = null;
let sharedBrowser = null;

/**
 * The calling test file's server and browser, shared by all its tests (node --test runs each file
 * in a process of its own): live bindings, set by setUpFile() before the first test.
 */
export { sharedServer as server, sharedBrowser as browser };

/**
 * Sets up what the calling test file's tests share: registers node:test `before` and `after` hooks
 * that start one server and one browser (the exported `server` and `browser`) and stop them after
 * the last test. `server: false` or `browser: false` leaves one out (files whose tests start
 * servers of their own); `serverArgs` are the server's extra flags (`--no-store` for files that
 * prove what peers send each other: the server's copy would hand a late joiner the notebook
 * even if no peer did); `prepare` is run alongside (e.g. building a bundle the tests load).
 */
export function setUpFile({ server = true, browser = true, serverArgs = [], prepare } = {}) {
  before(async () => {
    const [started, prepared] = await Promise.allSettled([startServerAndBrowser({ server, browser, serverArgs }), prepare?.()]);
    if (started.status === 'fulfilled') ({ server: sharedServer, browser: sharedBrowser } = started.value);
    for (const outcome of [started, prepared]) if (outcome.status === 'rejected') throw outcome.reason;
  });
  after(() => stopServerAndBrowser({ server: sharedServer, browser: sharedBrowser }));
}

function fileServer() {
  if (!sharedServer) throw new Error('no shared server: call setUpFile() at the top of the test file');
  return sharedServer;
}

function fileBrowser() {
  if (!sharedBrowser) throw new Error('no shared browser: call setUpFile() at the top of the test file');
  return sharedBrowser;
}

const pageErrorLists = new WeakMap();

/**
 * Makes every RTCPeerConnection in `context` use relay candidates only: a TURN server's, if the
 * app was given one (`turn: true`), else none at all, so no data channel can ever open (as
 * between two symmetric NATs without TURN) and Commonplace falls back to the server relay. Use
 * as openUser's `setup`.
 */
export async function onlyRelayCandidates(context, { turn = false } = {}) {
  await context.addInitScript((keepServers) => {
    const Native = window.RTCPeerConnection;
    const restrict = (config) => ({
      ...(config || {}),
      iceServers: keepServers ? (config?.iceServers ?? []) : [],
      iceTransportPolicy: 'relay',
    });
    // The app's first connection is made by index.html's head start without ICE servers, which
    // the app sets later with setConfiguration: restricted the same way.
    function Restricted(config, ...rest) {
      const pc = new Native(restrict(config), ...rest);
      const set = pc.setConfiguration.bind(pc);
      pc.setConfiguration = (next) => set(restrict(next));
      return pc;
    }
    Restricted.prototype = Native.prototype;
    Object.setPrototypeOf(Restricted, Native);
    window.RTCPeerConnection = Restricted;
  }, turn);
}

/**
 * One person: a new browser context (own storage, made with `contextOptions`) with one page,
 * opened at `url` as openTab does (`setup(context, name)` runs before the page opens). Console
 * errors and uncaught page errors are printed; uncaught ones are also kept for
 * assertNoPageErrors(). The caller closes it (closeUsers).
 */
export async function openUser(browser, url, { name = 'user', contextOptions = {}, setup, ...tab } = {}) {
  const context = await browser.newContext(contextOptions);
  try {
    if (setup) await setup(context, name);
    return await openTab(context, url, { name, ...tab });
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
}

/**
 * A new page of `context` (another tab of the same person) opened at `url`, waiting until the app
 * has rendered #editor (or the element `shows`: '#start' for the start screen) and, with `ready`, until the stored notebook is loaded and editing enabled
 * (waitForReady). Watched as watchPage does (`ignoreConsole`: console lines not to print).
 */
export async function openTab(context, url, { name = 'user', ready = false, ignoreConsole = null, shows = '#editor' } = {}) {
  const page = watchPage(await context.newPage(), { name, ignoreConsole });
  await waitFor(page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS }), `[${name}] could not load ${url}`);
  await waitFor(page.waitForSelector(shows, { state: 'attached', timeout: APP_LOAD_TIMEOUT_MS }),
    `[${name}] the app did not render ${shows} within ${APP_LOAD_TIMEOUT_MS} ms of loading ${url}`);
  if (ready) await waitForReady(page, { name });
  return page;
}

/** openUser in the file's shared browser (setUpFile), closed after test `t`. */
export async function openPerson(t, url, name, options = {}) {
  const page = await openUser(fileBrowser(), url, { name, ...options });
  t.after(() => closeUsers(page));
  return page;
}

/**
 * `names.length` people (openPerson, with `options`) in one fresh room named `prefix-…`, each
 * seeing all the others: { room, url, pages }.
 */
export async function openRoom(t, names, { prefix = 'e2e', ...options } = {}) {
  const room = newRoomName(prefix);
  const url = roomUrl(fileServer(), room);
  const pages = [];
  for (const name of names) pages.push(await openPerson(t, url, name, options));
  await Promise.all(pages.map((p, i) => waitForPeers(p, names.length - 1).catch((err) => {
    throw new Error(`[${names[i]}] ${err.message}`);
  })));
  return { room, url, pages };
}

/**
 * Sets the default timeout of any page (a second tab, a persistent context's page) and prints its
 * console errors and uncaught errors as openUser does; uncaught ones are kept for
 * assertNoPageErrors(). Returns the page.
 */
export function watchPage(page, { name = 'user', ignoreConsole = null } = {}) {
  page.setDefaultTimeout(DEFAULT_TIMEOUT_MS);
  const errors = [];
  pageErrorLists.set(page, errors);
  page.on('pageerror', (err) => {
    errors.push(err);
    log(`[${name}] page error: ${err.stack || err.message}`);
  });
  page.on('console', (msg) => {
    if (ignoreConsole?.test(msg.text()) && !verbose) return;
    // Warnings too: the app warns of what it recovers from (a failed offer, a refused candidate),
    // which is what a failure's log needs. Chromium's note on preload integrity, and Playwright's on blocked service workers, are noise.
    const shown = msg.type() === 'error' || (msg.type() === 'warning' && !/integrity|blocked by Playwright/.test(msg.text()));
    if (shown || verbose) log(`[${name}] console.${msg.type()}: ${msg.text()}`);
  });
  page.on('crash', () => {
    errors.push(new Error('page crashed'));
    log(`[${name}] page crashed`);
  });
  return page;
}

/** Closes the contexts of the given pages (ignores ones already closed). */
export async function closeUsers(...pages) {
  await Promise.all(pages.filter(Boolean).map((p) => p.context().close().catch(() => {})));
}

/** Uncaught errors seen on a page opened with openUser. */
export function pageErrors(page) {
  return pageErrorLists.get(page) ?? [];
}

/** Throws if any page had an uncaught error (a panic in the wasm app shows up as one). */
export function assertNoPageErrors(...pages) {
  const all = pages.flatMap((p) => pageErrors(p).map((e) => `${p.url()}: ${e.message}`));
  if (all.length) throw new Error(`uncaught page errors:\n${all.join('\n')}`);
}

/** Reads #status: { signaling, peers, text }. */
export async function status(page) {
  return page.$eval('#status', (el) => ({
    signaling: el.getAttribute('data-signaling'),
    peers: el.getAttribute('data-peers'),
    text: el.textContent,
  })).catch((err) => ({ error: err.message }));
}

/** Waits until #status says `n` peers are connected. */
export async function waitForPeers(page, n, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
  try {
    await page.waitForSelector(`#status[data-peers="${n}"]`, { state: 'attached', timeout });
  } catch (err) {
    throw new Error(`expected ${n} peer(s) within ${timeout} ms on ${page.url()}; #status is ${JSON.stringify(await status(page))} (${firstLine(err)})`);
  }
}

/** The editor's current text. */
export async function editorValue(page) {
  // A big page's editor holds only a window of it: the session's whole page then.
  return page.$eval('#editor', (el) => (el.hasAttribute('data-page-length') ? window.commonplacePageText() : el.value));
}

/** { start, end } of the editor's selection, in UTF-16 code units. */
export async function editorSelection(page) {
  return page.$eval('#editor', (el) => ({ start: el.selectionStart, end: el.selectionEnd }));
}

/**
 * Focuses the editor and puts the caret at `pos` (a UTF-16 offset of the page, or 'end'). A big
 * page's editor holds only a window of it (`data-page-length`, `data-window-start`): it is
 * scrolled to `pos` first, so the window moves there. Returns the caret's offset in the textarea.
 */
export async function setCaret(page, pos) {
  return page.$eval('#editor', async (el, p) => {
    el.focus();
    if (!el.hasAttribute('data-page-length')) {
      const at = p === 'end' ? el.value.length : p;
      el.setSelectionRange(at, at);
      return at;
    }
    const at = p === 'end' ? window.commonplacePageText().length : p;
    const start = () => Number(el.getAttribute('data-window-start'));
    const frame = () => new Promise((r) => requestAnimationFrame(() => setTimeout(r, 0)));
    // Scrolled to its top or bottom edge, the window moves a few hundred lines that way.
    for (let i = 0; i < 2000 && !(start() <= at && at <= start() + el.value.length); i++) {
      el.scrollTop = at < start() ? 0 : el.scrollHeight;
      await frame();
    }
    if (!(start() <= at && at <= start() + el.value.length)) throw new Error(`the editor's window (${start()}+${el.value.length}) did not move to ${at}`);
    const local = at - start();
    const row = el.value.slice(0, local).split('\n').length - 1;
    el.scrollTop = parseFloat(getComputedStyle(el).paddingTop) + row * parseFloat(getComputedStyle(el).lineHeight) - el.clientHeight / 2;
    await frame();
    const moved = at - start();
    el.setSelectionRange(moved, moved);
    return moved;
  }, pos);
}

/** The open page's length: a big page's editor holds only a window of it (`data-page-length`). */
export async function pageLength(page) {
  return page.$eval('#editor', (el) => Number(el.getAttribute('data-page-length') ?? el.value.length));
}

/**
 * Types `text` into the editor with real key events, at `at` (offset or 'end') if given, else
 * at the current caret. `delay` is the pause between keys in ms.
 */
export async function typeText(page, text, { at, delay = 0 } = {}) {
  // The editor is read-only until the stored notebook is loaded: keys typed before that are
  // dropped by the browser (on a busy machine a test typed half a sentence into it).
  await waitForReady(page);
  if (at !== undefined) await setCaret(page, at);
  else await page.focus('#editor');
  await page.keyboard.type(text, { delay });
}

/** Waits until the editor holds exactly `expected`. */
export async function waitForValue(page, expected, { timeout = DEFAULT_TIMEOUT_MS, name = 'page' } = {}) {
  try {
    // A big page's editor holds only a window of it: the session's whole page then.
    await page.waitForFunction((want) => {
      const el = document.querySelector('#editor');
      return (el?.hasAttribute('data-page-length') ? window.commonplacePageText() : el?.value) === want;
    }, expected, { timeout, polling: 20 });
  } catch (err) {
    const actual = await editorValue(page).catch((e) => `<unreadable: ${e.message}>`);
    throw new Error(`[${name}] editor did not become ${JSON.stringify(expected)} within ${timeout} ms; it is ${JSON.stringify(actual)} (${firstLine(err)})`);
  }
}

/**
 * Waits until every page's editor holds the same text, for which `until(text)` is true (e.g. a
 * length check, so that "all still empty" does not count), and returns it.
 */
export async function waitForConvergence(pages, { until = () => true, timeout = DEFAULT_TIMEOUT_MS } = {}) {
  const deadline = Date.now() + timeout;
  let values = [];
  for (;;) {
    values = await Promise.all(pages.map(editorValue));
    if (values.every((v) => v === values[0]) && until(values[0])) return values[0];
    if (Date.now() > deadline) {
      throw new Error(`editors did not converge within ${timeout} ms:\n${values.map((v, i) => `  [${i}] ${JSON.stringify(v)}`).join('\n')}`);
    }
    await sleep(50);
  }
}

/** Awaits `promise`; on failure rethrows with `message` first. */
export async function waitFor(promise, message) {
  try {
    return await promise;
  } catch (err) {
    throw new Error(`${message} (${firstLine(err)})`);
  }
}

/** The first line of an error's message. */
export function firstLine(err) {
  return String(err?.message ?? err).split('\n')[0];
}

/**
 * How this page reaches the other people, as its people list says: [{ path, text }] with
 * `path` the `data-path` (direct, stun, turn, relay) and `text` the words shown.
 */
export function peoplePaths(page) {
  return page.$$eval('#people-list li.person[data-me="false"]', (items) => items.map((li) => ({
    path: li.getAttribute('data-path'),
    text: li.querySelector('.person-path')?.textContent ?? null,
  })));
}

/** Waits until the people list shows exactly one other person, reached by `path`; returns the list. */
export function waitForPath(page, path, { name = 'page', timeout = DEFAULT_TIMEOUT_MS } = {}) {
  return until(`[${name}] the people list to show one person reached by "${path}"`, () => peoplePaths(page),
    (people) => people.length === 1 && people[0].path === path, { timeout });
}

/**
 * Reads `read()` until `ok(value)`, at most `timeout` ms; returns the value. On timeout it throws
 * "`what`" with the last value seen (a read that fails counts as not yet).
 */
export async function until(what, read, ok, { timeout = DEFAULT_TIMEOUT_MS, interval = 40 } = {}) {
  const deadline = Date.now() + timeout;
  let last;
  let error = null;
  for (;;) {
    try {
      last = await read();
      error = null;
      if (ok(last)) return last;
    } catch (err) {
      error = err;
    }
    if (Date.now() > deadline) {
      const seen = error ? `reading failed: ${firstLine(error)}` : `last seen ${JSON.stringify(last)}`;
      throw new Error(`${what}: not within ${timeout} ms; ${seen}`);
    }
    await sleep(interval);
  }
}

// ---- pages of the notebook (the sidebar) -------------------------------------------------------

/** The sidebar's pages in order: { id, title, current }. */
export function sidebar(page) {
  return page.$$eval('#pages > li.page-item', (items) => items.map((li) => ({
    id: li.getAttribute('data-page'),
    title: li.querySelector('button.page-link')?.textContent ?? li.querySelector('input.page-title-input')?.value ?? null,
    current: li.getAttribute('aria-current') === 'page',
  })));
}

/** What the person has open: { id (aria-current in the sidebar), title (#page-title) }. */
export function openedPage(page) {
  return page.evaluate(() => ({
    id: document.querySelector('#pages > li.page-item[aria-current="page"]')?.getAttribute('data-page') ?? null,
    title: document.querySelector('#page-title')?.textContent ?? null,
  }));
}

/** Waits until page `id`, titled `title`, is the open one (sidebar and #page-title agree). */
export function waitForOpen(page, id, title, name, options) {
  return until(`[${name}] page ${id} titled ${JSON.stringify(title)} should be open`,
    () => openedPage(page), (o) => o.id === id && o.title === title, options);
}

/**
 * "+ New page", then types `title` into the title field it opens (focused, holding "Untitled",
 * selected) and presses Enter; returns the new page's id once the sidebar lists it under that
 * title and it is the open page. Each wait is bounded by `timeout`.
 */
export async function createPage(page, title, { name = 'page', timeout = DEFAULT_TIMEOUT_MS } = {}) {
  const before = new Set((await sidebar(page)).map((i) => i.id));
  await page.click('#new-page');
  const input = page.locator('#pages input.page-title-input');
  await until(`[${name}] "+ New page" should open a focused title field holding "Untitled"`,
    () => page.evaluate(() => {
      const el = document.activeElement;
      return el?.matches('input.page-title-input') ? { value: el.value, li: el.closest('li')?.getAttribute('data-page') } : null;
    }),
    (f) => f?.value === 'Untitled', { timeout });
  const id = await input.evaluate((el) => el.closest('li').getAttribute('data-page'));
  assert.ok(!before.has(id), `[${name}] the title field is on an old page (${id})`);
  await page.keyboard.type(title); // replaces the selected "Untitled"
  await page.keyboard.press('Enter');
  await until(`[${name}] the new page ${id} should be listed as ${JSON.stringify(title)}`,
    () => sidebar(page), (items) => items.some((i) => i.id === id && i.title === title), { timeout });
  await waitForOpen(page, id, title, name, { timeout });
  return id;
}

// ---- the stored notebook (IndexedDB, y-indexeddb's layout) ------------------------------------

/**
 * Waits until the app has loaded the stored notebook and enabled editing: #editor[data-ready="true"].
 */
export async function waitForReady(page, { timeout = APP_LOAD_TIMEOUT_MS, name = 'page' } = {}) {
  try {
    await page.waitForSelector('#editor[data-ready="true"]', { state: 'attached', timeout });
  } catch (err) {
    const editor = await page.$eval('#editor', (el) => ({ ready: el.getAttribute('data-ready'), readOnly: el.readOnly, length: el.value.length }))
      .catch((e) => `<no #editor: ${firstLine(e)}>`);
    throw new Error(`[${name}] #editor[data-ready="true"] did not appear within ${timeout} ms on ${page.url()}; #editor is ${JSON.stringify(editor)} (${firstLine(err)})`);
  }
}

/** #saved: { state, text }, or { missing: true }. */
export async function savedState(page) {
  return page.evaluate(() => {
    const el = document.querySelector('#saved');
    return el ? { state: el.getAttribute('data-state'), text: el.textContent } : { missing: true };
  });
}

/** Waits until #saved[data-state="saved"]. */
export async function waitForSaved(page, { timeout = DEFAULT_TIMEOUT_MS, name = 'page' } = {}) {
  try {
    await page.waitForSelector('#saved[data-state="saved"]', { state: 'attached', timeout });
  } catch (err) {
    throw new Error(`[${name}] #saved[data-state="saved"] did not appear within ${timeout} ms; #saved is ${JSON.stringify(await savedState(page).catch((e) => firstLine(e)))} (${firstLine(err)})`);
  }
}

/** #server-copy: { state, label, saved (#status[data-server-saved]) }, or { missing: true }. */
export async function serverCopyState(page) {
  return page.evaluate(() => {
    const el = document.querySelector('#server-copy');
    const saved = document.querySelector('#status')?.getAttribute('data-server-saved');
    return el ? { state: el.getAttribute('data-state'), label: el.textContent, saved } : { missing: true, saved };
  });
}

/** Waits until #status[data-server-saved="yes"]: every change here is in the server's store. */
export async function waitForServerSaved(page, { timeout = DEFAULT_TIMEOUT_MS, name = 'page' } = {}) {
  try {
    await page.waitForSelector('#status[data-server-saved="yes"]', { state: 'attached', timeout });
  } catch (err) {
    throw new Error(`[${name}] #status[data-server-saved="yes"] did not appear within ${timeout} ms; the server copy is ${JSON.stringify(await serverCopyState(page).catch((e) => firstLine(e)))} (${firstLine(err)})`);
  }
}

/**
 * What the database `dbName` of the page's origin holds, read from the page without creating it
 * (an open that would create it is aborted): { exists: false } or
 * { exists, version, stores, autoIncrement, count, bytes, nonBytes } where count is the number of
 * `updates` records, bytes their total length and nonBytes how many are not Uint8Arrays.
 */
export async function idbUpdates(page, dbName) {
  return page.evaluate((name) => new Promise((resolve, reject) => {
    const request = indexedDB.open(name);
    let created = false;
    request.onupgradeneeded = () => { created = true; request.transaction.abort(); };
    request.onerror = () => (created ? resolve({ exists: false }) : reject(new Error(`indexedDB.open(${name}): ${request.error}`)));
    request.onblocked = () => reject(new Error(`indexedDB.open(${name}) blocked`));
    request.onsuccess = () => {
      const db = request.result;
      const stores = [...db.objectStoreNames];
      if (!stores.includes('updates')) {
        db.close();
        return resolve({ exists: true, version: db.version, stores, count: 0, bytes: 0, nonBytes: 0 });
      }
      const store = db.transaction('updates', 'readonly').objectStore('updates');
      const all = store.getAll();
      all.onerror = () => reject(new Error(`getAll on ${name}.updates: ${all.error}`));
      all.onsuccess = () => {
        const values = all.result;
        db.close();
        resolve({
          exists: true,
          version: db.version,
          stores,
          autoIncrement: store.autoIncrement,
          count: values.length,
          bytes: values.reduce((s, v) => s + (v instanceof Uint8Array ? v.byteLength : 0), 0),
          nonBytes: values.filter((v) => !(v instanceof Uint8Array)).length,
        });
      };
    };
  }), dbName);
}

/**
 * In `page`: creates database `name` in y-indexeddb's layout (if missing) and appends `updates`
 * (Uint8Arrays or Buffers), one record each, in one transaction.
 */
export async function appendToYIndexedDb(page, name, updates) {
  const lengths = updates.map((u) => u.length);
  const packed = Buffer.concat(updates).toString('base64');
  await page.evaluate(({ name, packed, lengths }) => new Promise((resolve, reject) => {
    const bin = atob(packed);
    const bytes = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
    const request = indexedDB.open(name, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore('updates', { autoIncrement: true });
      request.result.createObjectStore('custom');
    };
    request.onerror = () => reject(new Error(`open ${name}: ${request.error}`));
    request.onsuccess = () => {
      const db = request.result;
      const txn = db.transaction('updates', 'readwrite');
      const store = txn.objectStore('updates');
      let at = 0;
      for (const n of lengths) {
        store.add(bytes.slice(at, at + n));
        at += n;
      }
      txn.oncomplete = () => { db.close(); resolve(); };
      txn.onerror = () => { db.close(); reject(new Error(`append to ${name}: ${txn.error}`)); };
    };
  }), { name, packed, lengths });
}

const bundles = new Map();

/**
 * `contents` (an ES module importing npm packages) bundled for the browser by esbuild, at test
 * time, into tests/e2e/.artifacts/`file`: the script's text, an IIFE that defines
 * `window[globalName]`. Built once per process.
 */
function browserBundle(file, contents, globalName, define) {
  if (!bundles.has(file)) {
    bundles.set(file, (async () => {
      const { build } = await import('esbuild');
      const outfile = path.join(REPO_ROOT, 'tests', 'e2e', '.artifacts', file);
      await build({
        stdin: { contents, resolveDir: REPO_ROOT, loader: 'js' },
        bundle: true,
        format: 'iife',
        globalName,
        platform: 'browser',
        target: 'es2020',
        define,
        outfile,
        logLevel: 'silent',
      });
      return readFileSync(outfile, 'utf8');
    })());
  }
  return bundles.get(file);
}

/**
 * yjs + y-indexeddb bundled for the browser (browserBundle): the script's text, which defines
 * `window.YjsIdb = { Y, IndexeddbPersistence }`. Load it into a page with
 * `page.addScriptTag({ content })`.
 */
export function yjsIdbBundle() {
  return browserBundle('yjs-idb.js', "export * as Y from 'yjs'; export { IndexeddbPersistence } from 'y-indexeddb';", 'YjsIdb');
}

/**
 * The pid of the Chromium main process that this Node process started with
 * `--user-data-dir=<userDataDir>` (as chromium.launchPersistentContext does), for killing it
 * abruptly; Playwright starts it in its own process group, so `process.kill(-pid, 'SIGKILL')`
 * takes its helpers (renderers, utility processes) down at the same instant.
 */
export function chromiumPid(userDataDir) {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid !== process.pid) continue;
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      if (argv.includes(`--user-data-dir=${userDataDir}`)) return Number(entry);
    } catch {
      // the process is gone
    }
  }
  throw new Error(`no Chromium child process of ${process.pid} runs with --user-data-dir=${userDataDir}`);
}

/**
 * A Chromium with its profile on disk (launchPersistentBrowser): { context, page, killed, kill(),
 * waitGone() }. kill() is SIGKILL of its process group: no unload, nothing flushed.
 */
export async function launchProfile(userDataDir, name) {
  const context = await launchPersistentBrowser(userDataDir);
  const pid = chromiumPid(userDataDir);
  const page = watchPage(context.pages()[0] ?? await context.newPage(), { name });
  let killed = false;
  return {
    context,
    page,
    get killed() { return killed; },
    kill() {
      killed = true;
      // The whole process group: the browser and its renderers and utility processes at once.
      try { process.kill(-pid, 'SIGKILL'); } catch { process.kill(pid, 'SIGKILL'); }
    },
    async waitGone() {
      const deadline = Date.now() + 5_000;
      for (;;) {
        try { process.kill(pid, 0); } catch { return; }
        if (Date.now() > deadline) throw new Error(`Chromium ${pid} still runs 5 s after SIGKILL`);
        await sleep(20);
      }
    },
  };
}

// ---- keyed rooms, a stock Yjs + y-webrtc peer, the signaling wire --------------------------------

/** A fresh room secret as the app makes them: 16 random bytes (128 bits), base64url (22 chars). */
export function newRoomKey() {
  return randomBytes(16).toString('base64url');
}

/** `<origin>/#room=<name>&key=<secret>` (the key part only when `key` is given). */
export function keyedRoomUrl(server, room, key) {
  const base = roomUrl(server, room);
  return key === undefined || key === null ? base : `${base}&key=${encodeURIComponent(key)}`;
}

/** ws://HOST:PORT/signal of a started server. */
export function signalUrl(server) {
  const scheme = server.url.startsWith('https:') ? 'wss' : 'ws';
  return `${scheme}://127.0.0.1:${server.port}/signal`;
}

/**
 * Waits until #status[data-signaling] is one of `states` ('online', 'offline', 'connecting');
 * `why` says in a failure why it should have.
 */
export async function waitForSignalingState(page, states, { timeout = DEFAULT_TIMEOUT_MS, name = 'page', why = '' } = {}) {
  const want = Array.isArray(states) ? states : [states];
  try {
    await page.waitForFunction((w) => w.includes(document.querySelector('#status')?.getAttribute('data-signaling')),
      want, { timeout, polling: 50 });
  } catch (err) {
    throw new Error(`[${name}] #status[data-signaling] did not become ${want.join(' or ')} within ${timeout} ms${why ? ` (${why})` : ''}; #status is ${JSON.stringify(await status(page))} (${firstLine(err)})`);
  }
}

/** Waits until a service worker controls `page` (it claims clients once it has cached the app shell). */
export async function waitForController(page, { name = 'page' } = {}) {
  await waitFor(page.waitForFunction(() => !!navigator.serviceWorker?.controller, null, { timeout: DEFAULT_TIMEOUT_MS }),
    `[${name}] no service worker took control of ${page.url()} within ${DEFAULT_TIMEOUT_MS} ms`);
}

/** { length, sha256 (hex of the UTF-8 bytes) } of the editor's text, computed in the page. */
export async function editorDigest(page) {
  return textDigest(page, 'editor');
}

/**
 * { length, sha256 } of the text of `source` in the page: 'editor' (#editor's value) or 'yjs' (a
 * stock Yjs peer's `doc.getText('page')`, see openYjsPeer).
 */
function textDigest(page, source) {
  return page.evaluate(async (from) => {
    const el = document.querySelector('#editor');
    // A big page's editor holds only a window of it: the session's whole page then.
    const value = from === 'yjs' ? window.__yjs.text.toString()
      : el.hasAttribute('data-page-length') ? window.commonplacePageText() : el.value;
    const digest = await crypto.subtle.digest('SHA-256', new TextEncoder().encode(value));
    return { length: value.length, sha256: [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, '0')).join('') };
  }, source);
}

/**
 * yjs + y-webrtc bundled for the browser (browserBundle): the script's text, which defines
 * `window.YjsWebrtc = { Y, WebrtcProvider }`. y-webrtc's own import of
 * `simple-peer/simplepeer.min.js` is bundled as is.
 */
export function yjsWebrtcBundle() {
  return browserBundle('yjs-webrtc.js', "export * as Y from 'yjs'; export { WebrtcProvider } from 'y-webrtc';", 'YjsWebrtc',
    { global: 'globalThis' });
}

/**
 * A same-origin path the server answers "404 not found" (text/plain, which Chromium shows as an
 * HTML document): loaded from the server itself, so the page counts as loopback for Chromium's
 * local network access checks (a Playwright-fulfilled page would not, and could not open
 * ws://127.0.0.1/signal), and the app never starts there.
 */
const BLANK_PATH = '/__e2e-blank';

/**
 * A page of the server's origin (a secure context: crypto.subtle, BroadcastChannel, the origin's
 * IndexedDB) in `context`, without the app.
 */
export async function openBlankPage(context, server, { name = 'blank' } = {}) {
  // The page itself and /favicon.ico are expected 404s: not worth a console line.
  const page = watchPage(await context.newPage(), { name, ignoreConsole: /^Failed to load resource: .* 404 \(Not Found\)$/ });
  await page.goto(new URL(BLANK_PATH, server.url).href, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  const ok = await page.evaluate(() => !!document.head && window.isSecureContext && !!crypto.subtle);
  if (!ok) throw new Error(`[${name}] ${page.url()} is no secure HTML document with crypto.subtle`);
  return page;
}

/**
 * A stock Yjs + y-webrtc peer (npm packages, bundled by yjsWebrtcBundle) in its own browser
 * context, on a blank page of the server's origin:
 * `new WebrtcProvider(room, doc, { signaling: [ws://…/signal], password: key, peerOpts: { config: { iceServers: [] } } })`.
 * The page's text is `doc.getText('page')`. Returns helpers; `close()` closes its context.
 */
export async function openYjsPeer(browser, server, room, { key, name = 'yjs' } = {}) {
  const context = await browser.newContext();
  try {
    const page = await openBlankPage(context, server, { name });
    await page.addScriptTag({ content: await yjsWebrtcBundle() });
    await page.evaluate(({ room, key, signaling }) => {
      const { Y, WebrtcProvider } = window.YjsWebrtc;
      const doc = new Y.Doc();
      const provider = new WebrtcProvider(room, doc, {
        signaling: [signaling],
        password: key ?? undefined,
        peerOpts: { config: { iceServers: [] } },
      });
      const text = doc.getText('page');
      const peers = { webrtc: [], bc: [] };
      provider.on('peers', (e) => { peers.webrtc = e.webrtcPeers; peers.bc = e.bcPeers; });
      window.__yjs = { Y, doc, provider, text, peers };
    }, { room, key, signaling: signalUrl(server) });
    const peer = {
      page,
      context,
      name,
      /** The text of `doc.getText('page')`. */
      text: () => page.evaluate(() => window.__yjs.text.toString()),
      /** { length, sha256 } of that text, computed in the page as editorDigest does. */
      digest: () => textDigest(page, 'yjs'),
      /** Inserts `str` at `index` ('end' for the end) in one transaction. */
      insert: (str, index = 'end') => page.evaluate(({ str, index }) => {
        const t = window.__yjs.text;
        t.insert(index === 'end' ? t.length : index, str);
      }, { str, index }),
      /** Ids of the WebRTC peers y-webrtc is connected to (its own view). */
      connectedPeers: () => page.evaluate(() => [...window.__yjs.provider.room?.webrtcConns.values() ?? []]
        .filter((c) => c.connected).map((c) => c.remotePeerId)),
      /** Waits until `doc.getText('page')` is exactly `expected`. */
      async waitForText(expected, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
        try {
          await page.waitForFunction((want) => window.__yjs.text.toString() === want, expected, { timeout, polling: 20 });
        } catch (err) {
          const actual = await peer.text().catch((e) => `<unreadable: ${e.message}>`);
          throw new Error(`[${name}] Yjs peer's text did not become ${JSON.stringify(expected)} within ${timeout} ms; it is ${JSON.stringify(actual)} (${firstLine(err)})`);
        }
      },
      /** Waits until y-webrtc has `n` connected WebRTC peers. */
      async waitForPeers(n, { timeout = DEFAULT_TIMEOUT_MS } = {}) {
        try {
          await page.waitForFunction((k) => [...window.__yjs.provider.room?.webrtcConns.values() ?? []].filter((c) => c.connected).length === k,
            n, { timeout, polling: 50 });
        } catch (err) {
          throw new Error(`[${name}] the Yjs peer did not have ${n} connected WebRTC peer(s) within ${timeout} ms; it has ${JSON.stringify(await peer.connectedPeers().catch(() => '?'))} (${firstLine(err)})`);
        }
      },
      close: () => context.close().catch(() => {}),
    };
    return peer;
  } catch (err) {
    await context.close().catch(() => {});
    throw err;
  }
}

/**
 * Our own signaling client, subscribed to `topics`: records every frame the server sends it
 * (the server relays every publish to all of a topic's subscribers). { frames, raw, close() }.
 */
export async function signalingSpy(server, topics) {
  const { WebSocket } = await import('ws');
  const ws = new WebSocket(signalUrl(server));
  const frames = [];
  const raw = [];
  ws.on('message', (data) => {
    const text = String(data);
    raw.push(text);
    try { frames.push(JSON.parse(text)); } catch { frames.push({ unparsable: text }); }
  });
  await waitFor(new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('timeout')), 10_000);
    ws.once('open', () => { clearTimeout(timer); resolve(); });
    ws.once('error', (e) => { clearTimeout(timer); reject(e); });
  }), `the signaling spy could not connect to ${signalUrl(server)}`);
  ws.send(JSON.stringify({ type: 'subscribe', topics }));
  // The server answers a ping only after it has handled the subscribe before it.
  ws.send(JSON.stringify({ type: 'ping' }));
  await waitFor((async () => {
    const deadline = Date.now() + 5_000;
    while (!frames.some((f) => f.type === 'pong')) {
      if (Date.now() > deadline) throw new Error('no pong');
      await sleep(10);
    }
  })(), 'the signaling spy got no pong after subscribing');
  return { frames, raw, close: () => ws.close() };
}

const derivedKeys = new Map();

/** The AES-GCM-256 key y-webrtc derives from `secret` for `room` (PBKDF2-SHA256, 100k, salt = room). */
export async function deriveRoomKey(secret, room) {
  const { webcrypto } = await import('node:crypto');
  const id = `${room}\u0000${secret}`;
  if (!derivedKeys.has(id)) {
    derivedKeys.set(id, (async () => {
      const material = await webcrypto.subtle.importKey('raw', new TextEncoder().encode(secret), 'PBKDF2', false, ['deriveKey']);
      return webcrypto.subtle.deriveKey({ name: 'PBKDF2', salt: new TextEncoder().encode(room), iterations: 100_000, hash: 'SHA-256' },
        material, { name: 'AES-GCM', length: 256 }, false, ['decrypt']);
    })());
  }
  return derivedKeys.get(id);
}

/**
 * Opens y-webrtc's encrypted envelope (lib0: varString "AES-GCM", varUint8Array iv, varUint8Array
 * ciphertext) with the room's key; returns the plaintext bytes. Throws if it is not one, or if
 * the key does not open it.
 */
export async function decryptEnvelope(bytes, secret, room) {
  const { webcrypto } = await import('node:crypto');
  const decoding = await import('lib0/decoding');
  const key = await deriveRoomKey(secret, room);
  const decoder = decoding.createDecoder(bytes instanceof Uint8Array ? bytes : new Uint8Array(bytes));
  const algorithm = decoding.readVarString(decoder);
  if (algorithm !== 'AES-GCM') throw new Error(`algorithm ${JSON.stringify(algorithm)}, not AES-GCM`);
  const iv = decoding.readVarUint8Array(decoder);
  const cipher = decoding.readVarUint8Array(decoder);
  return new Uint8Array(await webcrypto.subtle.decrypt({ name: 'AES-GCM', iv }, key, cipher));
}

/**
 * Decrypts a keyed room's signaling `data` (a base64 string) as y-webrtc does with `password`;
 * the plaintext is lib0 `writeAny` of the message. Throws if it is not such a message under
 * that key.
 */
export async function decryptSignal(data, secret, room) {
  const decoding = await import('lib0/decoding');
  if (typeof data !== 'string') throw new Error(`data is a ${typeof data}, not a base64 string`);
  const plain = await decryptEnvelope(new Uint8Array(Buffer.from(data, 'base64')), secret, room);
  return decoding.readAny(decoding.createDecoder(plain));
}

/**
 * Listens on the BroadcastChannel named `room` from a blank page of the server's origin in
 * `context` (the channel the app's tabs of that browser share): `messages()` returns each
 * message seen so far as { bytes: number[] } (or { other: typeof } for non-binary ones).
 */
export async function broadcastSpy(context, server, room, { name = 'bc-spy' } = {}) {
  const page = await openBlankPage(context, server, { name });
  await page.evaluate((channel) => {
    window.__bcSeen = [];
    const bc = new BroadcastChannel(channel);
    bc.onmessage = (e) => {
      const d = e.data;
      if (d instanceof ArrayBuffer || ArrayBuffer.isView(d)) {
        const bytes = d instanceof ArrayBuffer ? new Uint8Array(d) : new Uint8Array(d.buffer, d.byteOffset, d.byteLength);
        window.__bcSeen.push({ bytes: [...bytes] });
      } else {
        window.__bcSeen.push({ other: typeof d });
      }
    };
  }, room);
  return { page, messages: () => page.evaluate(() => window.__bcSeen), close: () => page.close().catch(() => {}) };
}

/**
 * `promise`, or a rejection with `message` after `ms` (page.evaluate and friends have no timeout
 * of their own: a page whose main thread is stuck would otherwise hang the test).
 */
export function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    promise,
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(`${message} (no answer within ${ms} ms)`)), ms); }),
  ]).finally(() => clearTimeout(timer));
}

// ---- large notebooks -----------------------------------------------------------------------------

/**
 * Deterministic text of exactly `units` UTF-16 code units: words, punctuation and line breaks,
 * with some multi-byte characters (é, 日本, and 🎉, which is two units). Runs in the page.
 */
export function notebookText(units, seed) {
  const words = ['commonplace', 'notebook', 'peer', 'sync', 'café', 'naïve', '日本', 'data', 'channel', 'chunk',
    'the', 'a', 'of', 'and', '🎉', 'progress', 'late', 'joiner', 'large', 'document', 'Yjs', 'text'];
  let x = seed >>> 0;
  const next = () => { x = (Math.imul(x, 1664525) + 1013904223) >>> 0; return x; };
  const parts = [];
  let n = 0;
  while (n < units) {
    const r = next();
    let w = words[r % words.length];
    w += (r >>> 8) % 13 === 0 ? '.\n' : (r >>> 8) % 7 === 0 ? ', ' : ' ';
    parts.push(w);
    n += w.length;
  }
  let s = parts.join('');
  s = s.slice(0, units);
  // Never end in half a surrogate pair.
  if (/[\uD800-\uDBFF]$/.test(s)) s = `${s.slice(0, -1)}x`;
  return s;
}

/**
 * Appends notebookText(`size`) to the editor in `steps` pastes (one `input` event each, as a
 * paste of that much text would be), each bounded by `timeout`.
 */
export async function fillEditor(page, size, { steps = 1, timeout = 45_000, name = 'page', seed = 1000 } = {}) {
  const per = Math.ceil(size / steps);
  for (let i = 0; i < steps; i++) {
    const units = Math.min(per, size - i * per);
    // One expression (Playwright evaluates it through the DevTools protocol, so a page CSP that
    // forbids eval does not matter).
    const script = `(() => {
      const chunk = (${notebookText.toString()})(${units}, ${seed + i});
      const el = document.querySelector('#editor');
      el.focus();
      const at = el.value.length;
      el.setRangeText(chunk, at, at, 'end');
      el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste', data: null }));
    })()`;
    await withTimeout(page.evaluate(script), timeout, `[${name}] paste ${i + 1} of ${steps} (${units} units)`);
  }
}

/**
 * Ends a benchmark: prints its report (with a NOT MEASURED line per figure it could not take),
 * saves its results to tests/e2e/.artifacts/NAME.json, and exits non-zero only if a figure is
 * missing: speed never fails a run.
 */
/**
 * A benchmark's `section(name, fn)`: `results[name]` = what `fn` resolves to; if it throws, the
 * error goes to `problems` (printed as NOT MEASURED by finishBenchmark) and to `results[name]`.
 */
export function benchSections(results, problems) {
  return async (name, fn) => {
    try {
      results[name] = await fn();
    } catch (err) {
      problems.push(`${name}: ${err.message.split('\n')[0]}`);
      results[name] = { error: err.message };
    }
  };
}

/** tests/e2e/.artifacts/`file`, where tests and benchmarks leave what they produce (the directory made if missing). */
export function artifactPath(file) {
  const artifacts = path.join(REPO_ROOT, 'tests', 'e2e', '.artifacts');
  mkdirSync(artifacts, { recursive: true });
  return path.join(artifacts, file);
}

/** A trace Chromium wrote (browser.startTracing / stopTracing): its events, and each thread's name by "pid:tid". */
export function readTrace(file) {
  const trace = JSON.parse(readFileSync(file, 'utf8'));
  const events = trace.traceEvents ?? trace;
  const threads = {};
  for (const e of events) if (e.name === 'thread_name') threads[`${e.pid}:${e.tid}`] = e.args.name;
  return { events, threads };
}

export function finishBenchmark(name, lines, problems, results) {
  for (const p of problems) lines.push(`  NOT MEASURED ${p}`);
  lines.push('');
  console.log(lines.join('\n'));
  const saved = { date: new Date().toISOString(), ...results };
  writeFileSync(artifactPath(`${name}.json`), `${JSON.stringify(saved, null, 2)}\n`);
  process.exitCode = problems.length ? 1 : 0;
}
