// Differential test: Commonplace's signaling server against y-webrtc's own (npm y-webrtc,
// bin/server.js). The same clients send the same frames to both; every client must receive the
// same frames from both, so a stock y-webrtc client can use ours unchanged.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { WebSocket } from 'ws';
import { setUpFile, server, signalUrl, sleep } from './harness.mjs';

const require = createRequire(import.meta.url);
// y-webrtc's exports hide package.json and bin/; find the package through its main entry.
const REFERENCE = path.join(path.dirname(require.resolve('y-webrtc')), '..', 'bin', 'server.js');

let reference;

/** A port free on loopback right now (y-webrtc's server takes only a port). */
async function freePort() {
  const probe = net.createServer();
  await new Promise((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address();
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

async function startReference() {
  const port = await freePort();
  const child = spawn(process.execPath, [REFERENCE], { env: { ...process.env, PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'] });
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('y-webrtc server did not start')), 10_000);
    child.stdout.on('data', (d) => { if (String(d).includes('Signaling server running')) { clearTimeout(timer); resolve(); } });
    child.once('exit', (code) => reject(new Error(`y-webrtc server exited ${code}`)));
  });
  return { url: `ws://127.0.0.1:${port}`, stop: () => child.kill('SIGTERM') };
}

// Ours (`server`; no browser needed), and y-webrtc's.
setUpFile({ browser: false });

before(async () => {
  reference = await startReference();
});

after(() => {
  reference?.stop();
});

/** A client that records every frame it receives. */
async function client(url) {
  const ws = new WebSocket(url);
  const received = [];
  ws.on('message', (data) => received.push(JSON.parse(String(data))));
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject); });
  return { ws, received, send: (frame) => ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame)) };
}

const settle = () => sleep(150);

/** Runs one conversation against a server and returns what each client received. */
async function converse(url) {
  const a = await client(url);
  const b = await client(url);
  const c = await client(url);
  a.send({ type: 'subscribe', topics: ['room-1', 'room-2'] });
  b.send({ type: 'subscribe', topics: ['room-1', 42, null] });
  await settle();
  a.send({ type: 'publish', topic: 'room-1', data: { type: 'announce', from: 'peer-a' }, extra: [1, 'kept'] });
  await settle();
  b.send({ type: 'publish', topic: 'room-2', data: 'c2VjcmV0' });
  c.send({ type: 'publish', topic: 'nobody-here', data: {} });
  c.send({ type: 'ping' });
  await settle();
  b.send({ type: 'unsubscribe', topics: ['room-1'] });
  await settle();
  a.send({ type: 'publish', topic: 'room-1', data: { type: 'signal', to: 'x', from: 'peer-a', signal: { type: 'offer', sdp: 'v=0' } } });
  await settle();
  c.send({ type: 'subscribe', topics: ['room-2'] });
  await settle();
  c.ws.close();
  await settle();
  a.send({ type: 'publish', topic: 'room-2', data: 'after c left', clients: 99 });
  await settle();
  for (const x of [a, b]) x.ws.close();
  return { a: a.received, b: b.received, c: c.received };
}

test('our signaling server answers exactly as y-webrtc\'s does', async () => {
  const expected = await converse(reference.url);
  const actual = await converse(signalUrl(server));
  // The conversation must have exercised relaying, counts and pong, or it proves nothing.
  assert.ok(expected.a.length >= 3 && expected.c.some((m) => m.type === 'pong'), JSON.stringify(expected));
  assert.deepEqual(actual, expected);
});

test('frames y-webrtc\'s server would choke on are ignored, and the connection stays usable', async () => {
  const a = await client(signalUrl(server));
  for (const junk of ['not json', '[]', '{"type":"publish"}', '{"type":"subscribe","topics":"x"}', '{"topics":[]}', '"x"', 'null']) a.send(junk);
  a.send({ type: 'ping' });
  await settle();
  assert.deepEqual(a.received, [{ type: 'pong' }]);
  a.ws.close();
});
