// A real coturn for tests and benchmarks, as `scripts/turn` runs one for a deployment: TURN REST
// credentials (`use-auth-secret`) from the shared secret the Commonplace server is given with
// `--turn-secret`, UDP only, on one address. `netns` runs it inside a network namespace.

import { spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

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
 * Starts coturn on `ip:port` relaying from `ip`, accepting credentials made with `secret`.
 * Resolves once it is listening: { url (a `turn:…?transport=udp` URL), port, stop(), output() }.
 */
export async function startTurn({ secret, ip = '127.0.0.1', port, netns } = {}) {
  const listen = port ?? (netns ? 3478 : await freeUdpPort(ip));
  const dir = mkdtempSync(path.join(tmpdir(), 'cp-turn-'));
  // Relay ports: a small range picked at random, so two coturns rarely meet.
  const minPort = 40_000 + Math.floor(Math.random() * 200) * 100;
  const args = [
    '-n', '--listening-ip', ip, '--listening-port', String(listen), '--relay-ip', ip,
    '--min-port', String(minPort), '--max-port', String(minPort + 99),
    '--use-auth-secret', '--static-auth-secret', secret, '--realm', 'commonplace',
    '--no-cli', '--no-tls', '--no-dtls', '--no-tcp-relay', '--log-file', 'stdout', '--simple-log',
    '--pidfile', path.join(dir, 'turnserver.pid'), '--userdb', path.join(dir, 'turndb'),
  ];
  // On loopback the peers' relayed addresses are loopback ones too; coturn refuses those unless told.
  if (ip.startsWith('127.')) args.push('--allow-loopback-peers');
  const [command, argv] = netns ? ['ip', ['netns', 'exec', netns, 'turnserver', ...args]] : ['turnserver', args];
  const child = spawn(command, argv, { stdio: ['ignore', 'pipe', 'pipe'] });
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
    child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start coturn (apt-get install coturn): ${err.message}`)); });
    exit.then(() => { clearTimeout(timer); reject(new Error(`coturn exited (${JSON.stringify(exited)}):\n${output}`)); });
  }).catch((err) => {
    child.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
    throw err;
  });
  return {
    url: `turn:${ip}:${listen}?transport=udp`,
    port: listen,
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
