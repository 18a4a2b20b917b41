// A real coturn on loopback for tests and benchmarks, started by `scripts/turn` as a deployment
// starts it (TURN REST credentials from the secret the Commonplace server gets as
// `--turn-secret`), with loopback peers allowed back. The NAT lab starts its own in a namespace.

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { REPO_ROOT } from './harness.mjs';

const START_TIMEOUT_MS = 10_000;

/** A UDP port nothing on this machine uses now (for a listener started right after). */
export function freeUdpPort(address = '127.0.0.1') {
  return new Promise((resolve, reject) => {
    const socket = createSocket('udp4');
    socket.once('error', reject);
    socket.bind(0, address, () => {
      const { port } = socket.address();
      socket.close(() => resolve(port));
    });
  });
}

/**
 * Starts coturn on 127.0.0.1 accepting credentials made with `secret`. Resolves once it is
 * listening: { url (a `turn:…?transport=udp` URL), port, stop(), output() }.
 */
export async function startTurn({ secret }) {
  const port = await freeUdpPort();
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-turn-'));
  // Relay ports: a small range picked at random, so two coturns rarely meet.
  const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
  const child = spawn(path.join(REPO_ROOT, 'scripts', 'turn'), [
    // scripts/turn refuses private and special peers; here every peer is on loopback.
    '--allow-loopback-peers', '--allowed-peer-ip=127.0.0.1',
    '--pidfile', path.join(dir, 'turnserver.pid'), '--userdb', path.join(dir, 'turndb'),
  ], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env, COMMONPLACE_TURN_SECRET: secret, TURN_LISTEN_IP: '127.0.0.1', TURN_PORT: String(port),
      TURN_MIN_PORT: String(minPort), TURN_MAX_PORT: String(minPort + 99), TMPDIR: dir,
    },
  });
  let output = '';
  let exited = null;
  const exit = new Promise((resolve) => child.once('exit', (code, signal) => { exited = { code, signal }; resolve(); }));
  await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`coturn did not start within ${START_TIMEOUT_MS} ms:\n${output}`)), START_TIMEOUT_MS);
    const onData = (chunk) => {
      output += chunk;
      if (output.includes('Total General servers')) { clearTimeout(timer); resolve(); }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot run scripts/turn: ${err.message}`)); });
    exit.then(() => { clearTimeout(timer); reject(new Error(`scripts/turn exited (${JSON.stringify(exited)}):\n${output}`)); });
  }).catch((err) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: `turn:127.0.0.1:${port}?transport=udp`,
    port,
    output: () => output,
    async stop() {
      if (!exited) {
        child.kill('SIGTERM');
        await Promise.race([exit, new Promise((r) => setTimeout(r, 3_000))]);
        if (!exited) { child.kill('SIGKILL'); await exit; }
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
