// Commonplace's service worker: keeps this build's app shell (index.html, the hashed JS, wasm and
// CSS, the icons, the manifest) in a cache, so a room link opens and works with no network and no
// server. Served at /sw.js (scope /); registered by the inline script in index.html.
//
// The BUILD line below is a placeholder: scripts/sw-stamp.mjs (Trunk's post_build hook) rewrites
// it in dist/sw.js with this build's version (a hash of every file's name and content) and the
// exact list of its files. A new build is therefore a new sw.js: the browser installs it, it
// precaches the new files into a new cache and takes over at once, and on activate it deletes
// every older shell cache.
//
// Requests:
// - navigations to the app (/ or /index.html): network first with a short timeout, else this
//   build's cached index.html; so an app online always gets the newest build;
// - the files of this build: from the cache (cache first), else the network;
// - anything else (the /signal WebSocket, other paths, other origins): not touched.
// Unstamped (the hook did not run), the worker caches nothing and touches no request.

const BUILD = { version: 'unstamped', files: [] }; // rewritten by scripts/sw-stamp.mjs

const CACHE_PREFIX = 'commonplace-shell-';
const CACHE = CACHE_PREFIX + BUILD.version;
const NAVIGATION_TIMEOUT_MS = 3000;
const STAMPED = BUILD.files.length > 0;

const fileUrl = (name) => new URL(name, self.location.href).href;
const FILES = new Set(BUILD.files.map(fileUrl));
const SHELL = fileUrl('index.html');
const scopePath = new URL(self.registration.scope).pathname;
const APP_PATHS = new Set([scopePath, `${scopePath}index.html`]);

self.addEventListener('install', (event) => {
  event.waitUntil((async () => {
    if (STAMPED) {
      try {
        const cache = await caches.open(CACHE);
        // `reload`: straight from the server, never a stale copy from the HTTP cache.
        await cache.addAll(BUILD.files.map((name) => new Request(fileUrl(name), { cache: 'reload' })));
      } catch (err) {
        // E.g. a newer build was deployed meanwhile: keep the old worker; the next check retries.
        await caches.delete(CACHE);
        throw err;
      }
    }
    await self.skipWaiting();
  })());
});

self.addEventListener('activate', (event) => {
  event.waitUntil((async () => {
    for (const name of await caches.keys()) {
      if (name.startsWith(CACHE_PREFIX) && name !== CACHE) await caches.delete(name);
    }
    await self.clients.claim();
  })());
});

self.addEventListener('fetch', (event) => {
  const { request } = event;
  if (!STAMPED || request.method !== 'GET') return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === 'navigate') {
    if (APP_PATHS.has(url.pathname)) event.respondWith(appPage(request));
    return;
  }
  url.search = '';
  if (FILES.has(url.href)) {
    event.respondWith(fromCache(url.href).then((hit) => hit ?? fetch(request)));
  }
});

async function appPage(request) {
  const network = fetch(request);
  network.catch(() => {}); // may settle after the timeout; nobody waits for it then
  try {
    const response = await Promise.race([
      network,
      new Promise((_, reject) => setTimeout(() => reject(new Error('timeout')), NAVIGATION_TIMEOUT_MS)),
    ]);
    if (response.status < 500) return response;
  } catch {
    // Offline, the server gone, or too slow: this build's shell below.
  }
  return (await fromCache(SHELL)) ?? network;
}

async function fromCache(url) {
  const cache = await caches.open(CACHE);
  return cache.match(url, { ignoreVary: true });
}
