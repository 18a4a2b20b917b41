// Helpers for Commonplace's browser tests: the real server binary, headless Chromium, one browser
// context per simulated person. Every wait is bounded and says what it was waiting for.
//
// Needs `trunk build --release` (dist/) and `cargo build --release -p commonplace-server` first;
// scripts/test does both.

import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DIST_DIR = path.join(REPO_ROOT, 'dist');
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

/** A fresh room name, unique per call. */
export function newRoomName(prefix = 'e2e') {
  return `${prefix}-${randomBytes(6).toString('hex')}`;
}

/** `<origin>/#room=<name>` for a started server. */
export function roomUrl(server, room) {
  return new URL(`#room=${encodeURIComponent(room)}`, server.url).href;
}

/**
 * Starts target/release/commonplace-server on a free loopback port, serving dist/.
 * Resolves once it prints "Commonplace is running: open http://ADDR:PORT/".
 * @returns {Promise<{url: string, output: () => string, stop: () => Promise<void>}>}
 */
export async function startServer({ args = [] } = {}) {
  for (const [what, p] of [['server binary', SERVER_BIN], ['dist/index.html', path.join(DIST_DIR, 'index.html')]]) {
    if (!existsSync(p)) throw new Error(`${what} missing at ${p}: run scripts/test (or trunk build --release and cargo build --release -p commonplace-server)`);
  }
  const child = spawn(SERVER_BIN, ['--port', '0', '--bind', '127.0.0.1', '--dist', DIST_DIR, ...args], {
    cwd: REPO_ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { RUST_LOG: 'warn', ...process.env },
  });
  let output = '';
  let exited = null;
  const exitPromise = new Promise((resolve) => child.once('exit', (code, signal) => {
    exited = { code, signal };
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
    output: () => output,
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

const pageErrorLists = new WeakMap();

/**
 * One person: a new browser context (own storage) with one page, opened at `url`, waiting until
 * the app has rendered #editor. Console errors and uncaught page errors are printed; uncaught
 * ones are also kept for assertNoPageErrors().
 */
export async function openUser(browser, url, { name = 'user' } = {}) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.setDefaultTimeout(DEFAULT_TIMEOUT_MS);
  const errors = [];
  pageErrorLists.set(page, errors);
  page.on('pageerror', (err) => {
    errors.push(err);
    log(`[${name}] page error: ${err.stack || err.message}`);
  });
  page.on('console', (msg) => {
    if (msg.type() === 'error' || verbose) log(`[${name}] console.${msg.type()}: ${msg.text()}`);
  });
  page.on('crash', () => {
    errors.push(new Error('page crashed'));
    log(`[${name}] page crashed`);
  });
  await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitFor(page.waitForSelector('#editor', { state: 'attached', timeout: APP_LOAD_TIMEOUT_MS }),
    `[${name}] the app did not render #editor within ${APP_LOAD_TIMEOUT_MS} ms of loading ${url}`);
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
  return page.$eval('#editor', (el) => el.value);
}

/** { start, end } of the editor's selection, in UTF-16 code units. */
export async function editorSelection(page) {
  return page.$eval('#editor', (el) => ({ start: el.selectionStart, end: el.selectionEnd }));
}

/** Focuses the editor and puts the caret at `pos` (a UTF-16 offset, or 'end'). */
export async function setCaret(page, pos) {
  await page.$eval('#editor', (el, p) => {
    el.focus();
    const at = p === 'end' ? el.value.length : p;
    el.setSelectionRange(at, at);
  }, pos);
}

/**
 * Types `text` into the editor with real key events, at `at` (offset or 'end') if given, else
 * at the current caret. `delay` is the pause between keys in ms.
 */
export async function typeText(page, text, { at, delay = 0 } = {}) {
  if (at !== undefined) await setCaret(page, at);
  else await page.focus('#editor');
  await page.keyboard.type(text, { delay });
}

/** Waits until the editor holds exactly `expected`. */
export async function waitForValue(page, expected, { timeout = DEFAULT_TIMEOUT_MS, name = 'page' } = {}) {
  try {
    await page.waitForFunction((want) => document.querySelector('#editor')?.value === want, expected, { timeout, polling: 20 });
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
    await new Promise((r) => setTimeout(r, 50));
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

function firstLine(err) {
  return String(err?.message ?? err).split('\n')[0];
}
