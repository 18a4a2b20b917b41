// The offline app shell and installability: static/sw.js (stamped by scripts/sw-stamp.mjs),
// static/manifest.webmanifest and the icons. Only the shell is tested here (the app loads and runs
// with the server gone), not that the text survives.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { cpSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  setUpFile, serverFor, openPerson, newRoomName, roomUrl, assertNoPageErrors, waitFor, waitForController, sleep,
  launchPersistentBrowser, browser, REPO_ROOT, DIST_DIR, APP_LOAD_TIMEOUT_MS, DEFAULT_TIMEOUT_MS,
} from './harness.mjs';

const TEST_TIMEOUT_MS = 90_000;
const CACHE_PREFIX = 'commonplace-shell-';

// One browser for every test; each test starts a server of its own.
setUpFile({ server: false });

/** The shell caches in the page's origin. */
async function shellCaches(page) {
  return (await page.evaluate(() => caches.keys())).filter((name) => name.startsWith('commonplace-'));
}

/** Waits until the page has rendered the editor and the wasm app has drawn #status. */
async function waitForApp(page, what) {
  await waitFor(page.waitForSelector('#editor', { state: 'attached', timeout: APP_LOAD_TIMEOUT_MS }), `${what}: no #editor`);
  await waitFor(page.waitForSelector('#status[data-signaling]', { state: 'attached', timeout: APP_LOAD_TIMEOUT_MS }),
    `${what}: no #status from the wasm app`);
}

/** The BUILD line of a stamped sw.js: { version, files }. */
function stampOf(swText) {
  const m = swText.match(/^const BUILD = (\{.*\});/m);
  assert.ok(m, `sw.js has no stamped "const BUILD = {…};" line:\n${swText.slice(0, 400)}`);
  return JSON.parse(m[1]);
}

/** Every file under `dir` (relative, '/'-separated, sorted), sw.js and dotfiles excluded. */
function shippedFiles(dir) {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => path.relative(dir, path.join(e.parentPath ?? e.path, e.name)).split(path.sep).join('/'))
    .filter((name) => name !== 'sw.js' && !name.split('/').some((p) => p.startsWith('.')))
    .sort();
}

function stamp(dir) {
  execFileSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'sw-stamp.mjs')], {
    env: { ...process.env, TRUNK_STAGING_DIR: dir },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return stampOf(readFileSync(path.join(dir, 'sw.js'), 'utf8'));
}

test('a room link loads and runs with the server gone and the browser offline', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await serverFor(t);
  const url = roomUrl(server, newRoomName('offline'));
  const page = await openPerson(t, url, 'A');
  await waitForController(page);

  await server.stop();
  await page.context().setOffline(true);

  await page.reload({ waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(page, 'reload offline');
  assert.equal(new URL(page.url()).hash, new URL(url).hash, 'the room left the address bar');

  // A new tab on another room link, offline too.
  const other = await page.context().newPage();
  const errors = [];
  other.on('pageerror', (err) => errors.push(err.message));
  await other.goto(roomUrl(server, newRoomName('offline')), { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(other, 'new tab offline');
  assert.deepEqual(errors, [], 'uncaught errors in the offline tab');
  assertNoPageErrors(page);
});

test('the served sw.js precaches exactly the files of dist/, under a build version', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await serverFor(t);
  const response = await fetch(new URL('sw.js', server.url));
  assert.equal(response.status, 200);
  assert.match(response.headers.get('content-type') ?? '', /javascript/, 'sw.js must be served as JavaScript');
  assert.equal(response.headers.get('cache-control'), 'no-cache', 'sw.js must be revalidated, or updates are late');
  const { version, files } = stampOf(await response.text());
  assert.match(version, /^[0-9a-f]{16}$/);
  assert.deepEqual(files, shippedFiles(DIST_DIR));
  for (const must of ['index.html', 'manifest.webmanifest', 'icon-192.png', 'icon-512.png', 'icon.svg']) {
    assert.ok(files.includes(must), `${must} is not precached`);
  }
  for (const ext of ['.js', '_bg.wasm', '.css']) {
    assert.ok(files.some((f) => f.endsWith(ext)), `no *${ext} precached`);
  }
});

test('a new build replaces the old one: new version, new cache, old cache deleted', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  // A private copy of dist/, so that "a new build" can be made without rebuilding.
  const dir = mkdtempSync(path.join(os.tmpdir(), 'commonplace-dist-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  cpSync(DIST_DIR, dir, { recursive: true });
  const v1 = stamp(dir);
  // Build 1 was made a minute ago: the server validates sw.js by its Last-Modified time (whole
  // seconds), so build 2's sw.js must not carry the same second.
  const old = new Date(Date.now() - 60_000);
  utimesSync(path.join(dir, 'sw.js'), old, old);

  const server = await serverFor(t, { args: ['--dist', dir] });
  const page = await openPerson(t, roomUrl(server, newRoomName('update')), 'A');
  await waitForController(page);
  assert.deepEqual(await shellCaches(page), [CACHE_PREFIX + v1.version]);

  // Build 2: the stylesheet gets a new hashed name (as when app.css changes), the old one goes.
  const oldCss = v1.files.find((f) => /^app-[0-9a-f]+\.css$/.test(f));
  assert.ok(oldCss, `no app-<hash>.css in ${v1.files}`);
  const newCss = 'app-0123456789abcdef.css';
  renameSync(path.join(dir, oldCss), path.join(dir, newCss));
  const index = path.join(dir, 'index.html');
  writeFileSync(index, readFileSync(index, 'utf8').replaceAll(oldCss, newCss));
  const v2 = stamp(dir);
  assert.notEqual(v2.version, v1.version, 'a changed build must change the version');
  assert.ok(v2.files.includes(newCss) && !v2.files.includes(oldCss), `build 2 precaches ${v2.files}`);

  // Online, the next load gets build 2's page (network first) and the browser finds the new sw.js.
  await page.reload({ waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(page, 'reload with build 2');
  await page.evaluate(async () => (await navigator.serviceWorker.getRegistration())?.update());
  const want = [CACHE_PREFIX + v2.version];
  const deadline = Date.now() + DEFAULT_TIMEOUT_MS;
  let got = await shellCaches(page);
  while (JSON.stringify(got) !== JSON.stringify(want) && Date.now() < deadline) {
    await sleep(100);
    got = await shellCaches(page);
  }
  assert.deepEqual(got, want, 'build 2\'s worker did not replace build 1\'s cache');
  await waitForController(page);

  // Offline, the page is build 2's, with build 2's stylesheet.
  await server.stop();
  await page.context().setOffline(true);
  await page.reload({ waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(page, 'reload offline with build 2');
  const sheets = await page.evaluate(() => [...document.styleSheets].map((s) => s.href && new URL(s.href).pathname));
  assert.ok(sheets.includes(`/${newCss}`), `offline page uses stylesheets ${sheets}, not /${newCss}`);
  assertNoPageErrors(page);
});

test('the manifest is served, parses, its icons exist, and Chromium finds the app installable', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await serverFor(t);
  const response = await fetch(new URL('manifest.webmanifest', server.url));
  assert.equal(response.status, 200);
  assert.equal(response.headers.get('content-type'), 'application/manifest+json');
  const manifest = await response.json();
  assert.equal(manifest.name, 'Commonplace');
  assert.ok(manifest.short_name);
  assert.equal(manifest.start_url, '/');
  assert.equal(manifest.display, 'standalone');
  for (const key of ['theme_color', 'background_color']) assert.match(manifest[key], /^#[0-9a-f]{6}$/, key);

  const sizes = new Set();
  for (const icon of manifest.icons) {
    const r = await fetch(new URL(icon.src, server.url));
    assert.equal(r.status, 200, `icon ${icon.src}`);
    assert.equal(r.headers.get('content-type'), icon.type, `icon ${icon.src}`);
    const bytes = Buffer.from(await r.arrayBuffer());
    if (icon.type === 'image/png') {
      assert.equal(bytes.subarray(1, 4).toString(), 'PNG', `${icon.src} is not a PNG`);
      const size = `${bytes.readUInt32BE(16)}x${bytes.readUInt32BE(20)}`;
      assert.equal(size, icon.sizes, `${icon.src} is ${size}`);
    }
    sizes.add(`${icon.sizes} ${icon.purpose ?? 'any'}`);
  }
  for (const need of ['192x192 any', '512x512 any', '512x512 maskable', 'any any']) {
    assert.ok(sizes.has(need), `no ${need} icon in ${[...sizes]}`);
  }

  // What Chromium itself makes of it (DevTools' Application panel). A profile on disk: in
  // Playwright's usual off-the-record contexts nothing is installable.
  const profile = mkdtempSync(path.join(os.tmpdir(), 'commonplace-profile-'));
  const context = await launchPersistentBrowser(profile);
  t.after(async () => {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  });
  const page = context.pages()[0] ?? await context.newPage();
  const pageErrors = [];
  page.on('pageerror', (err) => pageErrors.push(err.message));
  await page.goto(roomUrl(server, newRoomName('manifest')), { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(page, 'persistent profile');
  await waitForController(page);
  const cdp = await context.newCDPSession(page);
  const { url, errors } = await cdp.send('Page.getAppManifest');
  assert.equal(url, new URL('manifest.webmanifest', server.url).href);
  assert.deepEqual(errors, [], 'manifest errors');
  const { installabilityErrors } = await cdp.send('Page.getInstallabilityErrors');
  assert.deepEqual(installabilityErrors, [], 'installability errors');
  assert.deepEqual(pageErrors, []);
});

test('without service workers the app still loads', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  const server = await serverFor(t);
  const context = await browser.newContext({ serviceWorkers: 'block' });
  t.after(() => context.close());
  const page = await context.newPage();
  const errors = [];
  page.on('pageerror', (err) => errors.push(err.message));
  await page.goto(roomUrl(server, newRoomName('nosw')), { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
  await waitForApp(page, 'service workers blocked');
  assert.equal(await page.evaluate(() => navigator.serviceWorker?.controller ?? null), null);
  assert.deepEqual(errors, []);
});
