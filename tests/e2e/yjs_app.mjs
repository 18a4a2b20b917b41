// The baseline the benchmarks compare Commonplace with: what a Yjs developer would ship — yjs +
// y-webrtc + y-indexeddb (the npm packages) bundled and minified by esbuild, and a <textarea>
// showing the Y.Text `page`. The link's hash says `room`, `key` (y-webrtc's `password`),
// `signaling` (a ws:// URL) and `ice` (RTCConfiguration.iceServers as JSON; none by default).
// window.app = { doc, text, provider }.

import http from 'node:http';
import { REPO_ROOT } from './harness.mjs';

const APP = `
import * as Y from 'yjs';
import { WebrtcProvider } from 'y-webrtc';
import { IndexeddbPersistence } from 'y-indexeddb';
const params = new URLSearchParams(location.hash.slice(1));
const room = params.get('room');
const doc = new Y.Doc();
const text = doc.getText('page');
const editor = document.getElementById('editor');
new IndexeddbPersistence(room, doc);
const provider = new WebrtcProvider(room, doc, {
  signaling: [params.get('signaling')],
  password: params.get('key') || undefined,
  peerOpts: { config: { iceServers: JSON.parse(params.get('ice') || '[]') } },
});
text.observe(() => { editor.value = text.toString(); });
editor.addEventListener('input', () => doc.transact(() => { text.delete(0, text.length); text.insert(0, editor.value); }));
window.app = { doc, text, provider };
`;
const HTML = '<!doctype html><meta charset="utf-8"><title>Yjs + y-webrtc</title><textarea id="editor"></textarea><script src="app.js"></script>';

let files;

/** { html, js } of the baseline app (bundled once per process). */
export async function yjsAppFiles() {
  if (!files) {
    const { build } = await import('esbuild');
    const bundle = await build({
      stdin: { contents: APP, resolveDir: REPO_ROOT, loader: 'js' },
      bundle: true, minify: true, format: 'iife', platform: 'browser', target: 'es2020', write: false, logLevel: 'silent',
    });
    files = { html: HTML, js: bundle.outputFiles[0].contents };
  }
  return files;
}

/** The baseline app served on loopback: { url, jsBytes, close() }. */
export async function serveYjsApp() {
  const { html, js } = await yjsAppFiles();
  const server = http.createServer((req, res) => {
    const [type, body] = req.url === '/app.js' ? ['text/javascript', js] : ['text/html', html];
    res.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' });
    res.end(body);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, jsBytes: js.length, close: () => server.close() };
}

/** Serves the baseline app to `context` at `base` (a URL ending in /) from memory. */
export async function routeYjsApp(context, base) {
  const { html, js } = await yjsAppFiles();
  await context.route(`${base}**`, (route) => {
    const isJs = new URL(route.request().url()).pathname.endsWith('/app.js');
    route.fulfill({ status: 200, contentType: isJs ? 'text/javascript' : 'text/html', body: isJs ? Buffer.from(js) : html });
  });
}

/** The baseline's link for `room`. */
export function yjsLink(base, { room, key, signaling, ice }) {
  const params = { room, signaling };
  if (key) params.key = key;
  if (ice) params.ice = JSON.stringify(ice);
  return `${base}#${new URLSearchParams(params)}`;
}
