// HTTPS: `--tls-cert FILE --tls-key FILE` serve the app and /signal over HTTPS/WSS (rustls), so a
// browser that reaches the server by name, not loopback, gets a secure context: service worker
// (offline, install), clipboard. Here Chromium reaches `commonplace.test` (mapped to 127.0.0.1,
// so nothing leaves the machine) with a certificate made for the test, trusted by its key's
// hash: a non-loopback origin, so the secure context is TLS's doing alone.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';
import {
  CHROMIUM_PATH, CHROMIUM_ARGS, startServer, newRoomName, openUser, waitForPeers, typeText, waitForValue,
  waitForController, assertNoPageErrors, closeUsers, signalUrl,
} from './harness.mjs';

const HOST = 'commonplace.test';
const TEST_TIMEOUT_MS = 90_000;

let dir;
let server;
let browser;
let origin;

/** A self-signed certificate for HOST, and the base64 SHA-256 of its public key (SPKI). */
function makeCertificate(into) {
  const cert = path.join(into, 'cert.pem');
  const key = path.join(into, 'key.pem');
  execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes',
    '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${HOST}`, '-addext', `subjectAltName=DNS:${HOST}`],
  { stdio: 'ignore' });
  const spki = execFileSync('openssl', ['x509', '-in', cert, '-noout', '-pubkey']);
  const der = execFileSync('openssl', ['pkey', '-pubin', '-outform', 'der'], { input: spki });
  const hash = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der }).toString('base64');
  return { cert, key, hash };
}

before(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'cp-https-'));
  const { cert, key, hash } = makeCertificate(dir);
  server = await startServer({ args: ['--tls-cert', cert, '--tls-key', key] });
  assert.match(server.url, /^https:\/\//, `the server printed ${server.url}, not an https link`);
  origin = `https://${HOST}:${server.port}`;
  browser = await chromium.launch({
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${HOST} 127.0.0.1`, `--ignore-certificate-errors-spki-list=${hash}`],
  });
});

after(async () => {
  await browser?.close();
  await server?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('over --tls-cert the app is a secure context away from loopback: service worker, WSS signaling, co-editing', { timeout: TEST_TIMEOUT_MS }, async () => {
  const url = `${origin}/#room=${newRoomName('https')}`;
  const a = await openUser(browser, url, { name: 'A', ready: true });
  const b = await openUser(browser, url, { name: 'B', ready: true });
  try {
    for (const [page, name] of [[a, 'A'], [b, 'B']]) {
      const seen = await page.evaluate(() => ({ secure: window.isSecureContext, protocol: location.protocol, host: location.hostname }));
      assert.deepEqual(seen, { secure: true, protocol: 'https:', host: HOST }, `[${name}] ${JSON.stringify(seen)}`);
      await waitForController(page, { name });
    }
    await Promise.all([waitForPeers(a, 1), waitForPeers(b, 1)]);
    await typeText(a, 'Sent over TLS, signaled over WSS.');
    await waitForValue(b, 'Sent over TLS, signaled over WSS.', { name: 'B' });
    assertNoPageErrors(a, b);
  } finally {
    await closeUsers(a, b);
  }
});

test('plain HTTP on the TLS port gets no app, and the signaling URL is wss', { timeout: TEST_TIMEOUT_MS }, async () => {
  assert.match(signalUrl(server), /^wss:\/\//);
  const plain = server.url.replace(/^https:/, 'http:');
  const answer = await fetch(plain).then((r) => `HTTP ${r.status}`, (err) => `refused: ${err.cause?.code ?? err.message}`);
  assert.match(answer, /^refused/, `plain HTTP to the TLS port got ${answer}`);
});
