// A tiny TCP load balancer for the browser tests: one origin (http://127.0.0.1:PORT/) in front
// of several servers, as a load balancer in front of several instances. The browsers see one
// site, so the service worker, IndexedDB, and the app's same-origin /signal, /config and /store
// URLs work as in production, whichever instance answers.
//
// It passes bytes and nothing else (no HTTP parsing, no health checks): each new connection goes
// to the backend the test chose last (`route(n)`, 1-based), and stays there for as long as it
// lasts, as a WebSocket stays on the instance it was opened on. A connection whose backend
// refuses it or goes away (a killed instance) is closed on the browser's side at once, as a load
// balancer resets it. It peeks at each connection's first bytes to tell the signaling WebSockets
// (`GET /signal`) from other requests, so a test can see which instance a page's WebSocket went
// through.

import net from 'node:net';

/**
 * Starts a balancer on 127.0.0.1 (a free port) in front of `backends`, a list of servers (each
 * with `port`), numbered from 1 in that order; new connections go to backend 1 until route()
 * says otherwise. Has `url` and `port` like a started server, so roomUrl() and keyedRoomUrl()
 * take it.
 */
export async function startBalancer(backends) {
  let target = 1;
  const conns = new Set();
  const routed = new Map(backends.map((_, i) => [i + 1, { connections: 0, signals: 0 }]));

  const server = net.createServer((client) => {
    const backend = target;
    const entry = { backend, client, upstream: null, kind: null, closed: false };
    conns.add(entry);
    routed.get(backend).connections++;
    const upstream = net.connect({ port: backends[backend - 1].port, host: '127.0.0.1' });
    entry.upstream = upstream;
    upstream.setNoDelay(true);
    client.setNoDelay(true);
    const close = () => {
      if (entry.closed) return;
      entry.closed = true;
      conns.delete(entry);
      client.destroy();
      upstream.destroy();
    };
    client.once('data', (chunk) => {
      entry.kind = chunk.toString('latin1', 0, 12).startsWith('GET /signal') ? 'signal' : 'http';
      if (entry.kind === 'signal') routed.get(backend).signals++;
    });
    client.pipe(upstream);
    upstream.pipe(client);
    for (const socket of [client, upstream]) {
      socket.on('error', close);
      socket.on('close', close);
    }
  });
  await new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  const { port } = server.address();

  const check = (n) => {
    if (!routed.has(n)) throw new Error(`no backend ${n}: the balancer has backends 1 to ${backends.length}`);
  };
  const open = (n, kind) => [...conns].filter((c) => c.backend === n && (kind === undefined || c.kind === kind)).length;

  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    /** New connections go to backend `n` (1-based) from now on. */
    route(n) {
      check(n);
      target = n;
    },
    /** The backend new connections go to. */
    get target() { return target; },
    /** Connections ever sent to backend `n`. */
    connections(n) { check(n); return routed.get(n).connections; },
    /** Signaling WebSockets (`GET /signal`) ever sent to backend `n`. */
    signals(n) { check(n); return routed.get(n).signals; },
    /** Signaling WebSockets open through backend `n` now. */
    openSignals(n) { check(n); return open(n, 'signal'); },
    /** Connections open to backend `n` now. */
    openConnections(n) { check(n); return open(n); },
    /** { backend: { connections, signals, openSignals } } for failure messages. */
    describe() {
      return Object.fromEntries([...routed].map(([n, r]) => [n, { ...r, openSignals: open(n, 'signal'), open: open(n) }]));
    },
    /** Closes every connection to backend `n` (as a load balancer does for a backend it took out). */
    drop(n) {
      check(n);
      for (const c of [...conns]) if (c.backend === n) { c.client.destroy(); c.upstream.destroy(); }
    },
    /** Stops listening and closes every connection. */
    async close() {
      for (const c of [...conns]) { c.client.destroy(); c.upstream.destroy(); }
      await new Promise((resolve) => server.close(() => resolve()));
    },
  };
}
