// A small internet in network namespaces, for tests of how peers reach each other across NATs
// (nat_lab.test.mjs). One lab is:
//
//   wan        198.18.0.1 (on its lo): the real commonplace-server and a real coturn
//              198.18.1.1/24 ── router 1, 198.18.2.1/24 ── router 2; forwards between them
//   r1, r2     NAT routers: public side wan0 198.18.N.2/24, home side lan0 198.19.N.1/24;
//              iptables MASQUERADE out of wan0 (with --random-fully: a symmetric NAT, whose
//              mapping is new for every destination, defeating STUN); like a home router they
//              accept on wan0 only what answers a connection from inside, and optionally drop
//              every UDP packet
//   c1, c2     a client behind each router, 198.19.N.2/24, in which a Chromium runs (a wrapper
//              script, `ip netns exec <ns> chromium "$@"`, is Playwright's executablePath)
//
// Only addresses from 198.18.0.0/15 (RFC 2544, set aside for such labs) are used, and the
// wan namespace has no route to the clients' home networks (what it cannot route it drops, as
// the internet drops private addresses): peers can only meet through the NATs. Namespaces are
// named `cplnat-<pid>-<n>-…` (this process's pid, a counter), made by createLab() and deleted
// by its cleanup(), which also runs on exit (uncaught exceptions included), SIGINT, SIGTERM and
// SIGHUP; only a SIGKILL leaves them behind. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN):
// labUnavailable() says why a machine cannot build a lab, for tests to skip.

import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { CHROMIUM_ARGS, CHROMIUM_PATH, DIST_DIR, REPO_ROOT, SERVER_BIN, sleep } from './harness.mjs';

export const SERVER_IP = '198.18.0.1';
export const SERVER_PORT = 8080;
export const ORIGIN = `http://${SERVER_IP}:${SERVER_PORT}`;
export const STUN_URL = `stun:${SERVER_IP}:3478`;
// A bare turn: URL makes Chromium try TURN over TCP as well.
export const TURN_URL = `turn:${SERVER_IP}:3478?transport=udp`;

const SPY_SCRIPT = path.join(path.dirname(fileURLToPath(import.meta.url)), 'natlab_spy.mjs');
const START_TIMEOUT_MS = 20_000;
const verbose = !!process.env.E2E_VERBOSE;
const log = (line) => process.stderr.write(`${line}\n`);

let labCount = 0;
/** Every lab not cleaned up yet: cleaned up synchronously when the process ends. */
const liveLabs = new Set();
let exitHooksInstalled = false;

function installExitHooks() {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  const cleanAll = () => { for (const lab of [...liveLabs]) lab.cleanupSync(); };
  // 'exit' is emitted on every exit but SIGKILL's, also one for an uncaught exception or an
  // unhandled rejection; signals that end the process would skip it.
  process.on('exit', cleanAll);
  // A signal ends the process here: re-raising it would not, as Playwright listens for SIGTERM
  // and SIGHUP too (to close its browsers, and carry on).
  for (const [signal, code] of [['SIGINT', 130], ['SIGTERM', 143], ['SIGHUP', 129]]) {
    process.once(signal, () => {
      log(`natlab: ${signal}, removing the lab`);
      cleanAll();
      process.exit(code);
    });
  }
}

function run(cmd, args) {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.error || result.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')}: ${result.error?.message ?? `exit ${result.status}`} ${result.stderr?.trim() ?? ''}`);
  }
  return result.stdout;
}

/**
 * Why this machine cannot build a lab (not Linux, not root, no `ip netns`, no iptables or
 * coturn), or null if it can: it adds, uses and deletes one namespace. Missing builds or
 * Chromium are no reason to skip: the lab fails on them, as the other browser tests do.
 */
export function labUnavailable() {
  if (process.platform !== 'linux') return `network namespaces need Linux (this is ${process.platform})`;
  if (process.getuid?.() !== 0) return 'creating network namespaces and NAT rules needs root (run the tests as root, as CI does)';
  for (const tool of ['ip', 'iptables', 'turnserver']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} is not installed (scripts/setup --browser installs it)`;
  }
  const probe = `cplnat-${process.pid}-probe`;
  try {
    run('ip', ['netns', 'add', probe]);
  } catch (err) {
    return `cannot create a network namespace: ${err.message}`;
  }
  try {
    run('ip', ['netns', 'exec', probe, 'iptables', '-w', '-t', 'nat', '-A', 'POSTROUTING', '-o', 'lo', '-j', 'MASQUERADE', '--random-fully']);
    return null;
  } catch (err) {
    return `iptables MASQUERADE --random-fully does not work in a namespace: ${err.message}`;
  } finally {
    spawnSync('ip', ['netns', 'del', probe]);
  }
}

/**
 * Builds a lab: `nat` 'cone' (MASQUERADE, which keeps a mapping per inside address and port) or
 * 'symmetric' (--random-fully); `dropUdp` drops every UDP packet the routers would forward.
 * Returns the lab; its cleanup() removes everything (also on process exit).
 */
export function createLab({ nat = 'cone', dropUdp = false } = {}) {
  installExitHooks();
  const prefix = `cplnat-${process.pid}-${++labCount}`;
  const lab = new Lab(prefix);
  liveLabs.add(lab);
  try {
    lab.build({ nat, dropUdp });
  } catch (err) {
    lab.cleanupSync();
    throw err;
  }
  return lab;
}

class Lab {
  constructor(prefix) {
    this.prefix = prefix;
    this.ns = { wan: `${prefix}-wan`, r1: `${prefix}-r1`, r2: `${prefix}-r2`, c1: `${prefix}-c1`, c2: `${prefix}-c2` };
    this.created = [];
    this.children = new Set();
    this.browsers = new Set();
    this.dir = mkdtempSync(path.join(tmpdir(), `${prefix}-`));
    this.cleaned = false;
  }

  ip(ns, ...args) {
    return run('ip', ['-n', ns, ...args]);
  }

  exec(ns, ...args) {
    return run('ip', ['netns', 'exec', ns, ...args]);
  }

  addNamespace(ns) {
    run('ip', ['netns', 'add', ns]);
    this.created.push(ns);
    // IPv4 only: no link-local IPv6 addresses for Chromium to offer as candidates.
    this.exec(ns, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1');
    this.ip(ns, 'link', 'set', 'lo', 'up');
  }

  /** A veth pair made right inside the two namespaces (no name in the host's namespace). */
  link(nsA, ifA, addrA, nsB, ifB, addrB) {
    run('ip', ['link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB]);
    this.ip(nsA, 'addr', 'add', addrA, 'dev', ifA);
    this.ip(nsB, 'addr', 'add', addrB, 'dev', ifB);
    this.ip(nsA, 'link', 'set', ifA, 'up');
    this.ip(nsB, 'link', 'set', ifB, 'up');
  }

  build({ nat, dropUdp }) {
    const { wan } = this.ns;
    for (const ns of Object.values(this.ns)) this.addNamespace(ns);
    this.ip(wan, 'addr', 'add', `${SERVER_IP}/32`, 'dev', 'lo');
    // As on the internet, packets for addresses nobody routes (the clients' private ones) vanish
    // without a word: the default route leads into a veth whose other end throws away every
    // frame (addressed to a MAC it does not have). Without a route a send to such an address
    // fails at once with ENETUNREACH, and coturn 4.6 closes the allocation it came from, a
    // working TURN path with it.
    run('ip', ['link', 'add', 'void0', 'netns', wan, 'type', 'veth', 'peer', 'name', 'void1', 'netns', wan]);
    this.ip(wan, 'link', 'set', 'void0', 'up');
    this.ip(wan, 'link', 'set', 'void1', 'up');
    this.ip(wan, 'addr', 'add', '198.18.255.1/30', 'dev', 'void0');
    this.ip(wan, 'neigh', 'add', '198.18.255.2', 'lladdr', '02:00:5e:00:53:01', 'dev', 'void0', 'nud', 'permanent');
    this.ip(wan, 'route', 'add', 'default', 'via', '198.18.255.2', 'dev', 'void0');
    this.exec(wan, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
    for (const n of [1, 2]) {
      const router = this.ns[`r${n}`];
      const client = this.ns[`c${n}`];
      this.link(wan, `r${n}`, `198.18.${n}.1/24`, router, 'wan0', `198.18.${n}.2/24`);
      this.link(router, 'lan0', `198.19.${n}.1/24`, client, 'eth0', `198.19.${n}.2/24`);
      this.ip(router, 'route', 'add', 'default', 'via', `198.18.${n}.1`);
      this.ip(client, 'route', 'add', 'default', 'via', `198.19.${n}.1`);
      this.exec(router, 'sysctl', '-q', '-w', 'net.ipv4.ip_forward=1');
      const ipt = (...args) => this.exec(router, 'iptables', '-w', ...args);
      ipt('-t', 'nat', '-A', 'POSTROUTING', '-o', 'wan0', '-j', 'MASQUERADE', ...(nat === 'symmetric' ? ['--random-fully'] : []));
      // A home router: what comes in on the public side must answer something from inside.
      // Dropped before conntrack confirms it, an unsolicited packet (a peer's first hole-punching
      // check) leaves no entry that would make MASQUERADE pick another port for our own mapping.
      ipt('-P', 'FORWARD', 'DROP');
      if (dropUdp) ipt('-A', 'FORWARD', '-p', 'udp', '-j', 'DROP');
      ipt('-A', 'FORWARD', '-i', 'lan0', '-o', 'wan0', '-j', 'ACCEPT');
      ipt('-A', 'FORWARD', '-i', 'wan0', '-o', 'lan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
      ipt('-P', 'INPUT', 'DROP');
      ipt('-A', 'INPUT', '-i', 'lo', '-j', 'ACCEPT');
      ipt('-A', 'INPUT', '-i', 'lan0', '-j', 'ACCEPT');
      ipt('-A', 'INPUT', '-i', 'wan0', '-m', 'conntrack', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'ACCEPT');
    }
  }

  /** Starts `argv` inside namespace `ns`; resolves once its output matches `ready`. */
  async spawnIn(ns, name, argv, ready, { env = {} } = {}) {
    const child = spawn('ip', ['netns', 'exec', ns, ...argv], {
      cwd: REPO_ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, ...env },
    });
    this.children.add(child);
    let output = '';
    const exited = new Promise((resolve) => child.once('exit', (code, signal) => {
      this.children.delete(child);
      resolve({ code, signal });
    }));
    await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${name} was not ready within ${START_TIMEOUT_MS} ms; output:\n${output}`)), START_TIMEOUT_MS);
      const onData = (chunk) => {
        output += chunk.toString();
        if (verbose) process.stderr.write(`[${name}] ${chunk}`);
        if (ready.test(output)) {
          clearTimeout(timer);
          resolve();
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.once('error', (err) => { clearTimeout(timer); reject(new Error(`cannot start ${name}: ${err.message}`)); });
      exited.then(({ code, signal }) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited (code ${code}, signal ${signal}) before it was ready; output:\n${output}`));
      });
    });
    return {
      child,
      output: () => output,
      async stop() {
        if (child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const timeout = sleep(5_000).then(() => 'timeout');
        if ((await Promise.race([exited, timeout])) === 'timeout') {
          child.kill('SIGKILL');
          await exited;
        }
      },
    };
  }

  /**
   * coturn on 198.18.0.1:3478 (STUN, and TURN with the REST API secret `secret`), UDP and TCP,
   * started by scripts/turn as a deployment would start it. Its denied-peer-ip list covers all
   * of 198.18.0.0/15, so the lab's "public" 198.18.0.0/16 is allowed back; the clients' home
   * networks (198.19.0.0/16) stay refused, as private networks are in a real deployment.
   */
  async startCoturn({ secret }) {
    this.coturn = await this.spawnIn(this.ns.wan, 'coturn', [
      path.join(REPO_ROOT, 'scripts', 'turn'),
      '--allowed-peer-ip=198.18.0.0-198.18.255.255',
      '--pidfile', path.join(this.dir, 'turnserver.pid'), '--userdb', path.join(this.dir, 'turndb'),
      ...(process.env.NATLAB_COTURN_VERBOSE ? ['-v'] : []),
    ], /SQLite DB connection success/, {
      // TMPDIR: scripts/turn's config file (the secret) goes with the lab, even if it is killed.
      env: { COMMONPLACE_TURN_SECRET: secret, TURN_LISTEN_IP: SERVER_IP, TMPDIR: this.dir },
    });
    return this.coturn;
  }

  /** The real commonplace-server at http://198.18.0.1:8080, with extra flags `args`. */
  async startServer(args = [], { env = {} } = {}) {
    for (const [what, file] of [['server binary', SERVER_BIN], ['dist/index.html', path.join(DIST_DIR, 'index.html')]]) {
      if (!existsSync(file)) throw new Error(`${what} missing at ${file}: run scripts/test (or trunk build --release and cargo build --release -p commonplace-server)`);
    }
    this.server = await this.spawnIn(this.ns.wan, 'server', [
      SERVER_BIN, '--bind', SERVER_IP, '--port', String(SERVER_PORT), '--dist', DIST_DIR,
      '--data', path.join(this.dir, 'store'), ...args,
    ], /Commonplace is running: open http:\/\/\S+/, { env: { RUST_LOG: 'warn', ...env } });
    return this.server;
  }

  /** `${dir}/chromium-cN`: runs the system Chromium inside client namespace cN. */
  chromiumWrapper(n) {
    const file = path.join(this.dir, `chromium-c${n}`);
    if (!existsSync(file)) {
      writeFileSync(file, `#!/bin/sh\nexec ip netns exec '${this.ns[`c${n}`]}' '${CHROMIUM_PATH}' "$@"\n`);
      chmodSync(file, 0o755);
    }
    return file;
  }

  /**
   * Headless Chromium in client namespace cN, with the harness's flags; the lab's plain-HTTP
   * origin counts as a secure context (crypto.subtle for keyed rooms).
   */
  async launchBrowser(n) {
    const browser = await chromium.launch({
      executablePath: this.chromiumWrapper(n),
      headless: true,
      args: [...CHROMIUM_ARGS, `--unsafely-treat-insecure-origin-as-secure=${ORIGIN}`],
    });
    this.browsers.add(browser);
    return browser;
  }

  /**
   * A signaling client inside the wan namespace (natlab_spy.mjs), subscribed to `topics`: every
   * frame the server sends it, as the harness's signalingSpy records them ({ frames, raw,
   * close() }).
   */
  async signalingSpy(topics) {
    const frames = [];
    const raw = [];
    let buffered = '';
    const spy = await this.spawnIn(this.ns.wan, 'spy', [process.execPath, SPY_SCRIPT, `ws://${SERVER_IP}:${SERVER_PORT}/signal`, JSON.stringify(topics)],
      /^subscribed$/m);
    spy.child.stdout.on('data', (chunk) => {
      buffered += chunk.toString();
      let at;
      while ((at = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, at);
        buffered = buffered.slice(at + 1);
        if (!line.startsWith('{')) continue;
        const text = JSON.parse(line).frame;
        raw.push(text);
        try { frames.push(JSON.parse(text)); } catch { frames.push({ unparsable: text }); }
      }
    });
    return { frames, raw, close: () => spy.stop() };
  }

  /** How many UDP packets each router's drop-all-UDP rule dropped (dropUdp labs): [r1, r2]. */
  udpDropped() {
    return [1, 2].map((n) => {
      const rules = this.exec(this.ns[`r${n}`], 'iptables', '-w', '-v', '-x', '-n', '-L', 'FORWARD');
      const rule = rules.split('\n').find((line) => /^\s*\d+\s+\d+\s+DROP\s+(17|udp)\s/.test(line));
      return rule ? Number(rule.trim().split(/\s+/)[0]) : 0;
    });
  }

  /** Counters of the routers' iptables rules (for a failure message). */
  describeRouters() {
    return [1, 2].map((n) => {
      try {
        return `r${n}:\n${this.exec(this.ns[`r${n}`], 'iptables', '-w', '-v', '-n', '-L', 'FORWARD')}${this.exec(this.ns[`r${n}`], 'iptables', '-w', '-t', 'nat', '-v', '-n', '-L', 'POSTROUTING')}`;
      } catch (err) {
        return `r${n}: ${err.message}`;
      }
    }).join('\n');
  }

  /** Closes the browsers, stops the server, coturn and the spy, deletes every namespace. */
  async cleanup() {
    if (this.cleaned) return;
    await Promise.all([...this.browsers].map((b) => b.close().catch(() => {})));
    this.browsers.clear();
    await Promise.all([...this.children].map((c) => new Promise((resolve) => {
      if (c.exitCode !== null || c.signalCode !== null) return resolve();
      c.once('exit', resolve);
      c.kill('SIGTERM');
      setTimeout(() => { c.kill('SIGKILL'); }, 3_000).unref();
    })));
    this.cleanupSync();
  }

  /** What cleanup() does, without waiting for anything to shut down cleanly (process exit). */
  cleanupSync() {
    if (this.cleaned) return;
    this.cleaned = true;
    liveLabs.delete(this);
    for (const c of this.children) {
      try { c.kill('SIGKILL'); } catch { /* gone */ }
    }
    // Chromium (Playwright kills it on exit too) and anything else still inside our namespaces.
    for (const ns of this.created) {
      const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' }).stdout?.split(/\s+/).filter(Boolean) ?? [];
      for (const pid of pids) {
        try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      }
    }
    // Deleting a namespace takes its veths with it.
    for (const ns of this.created.reverse()) {
      const result = spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8' });
      if (result.status !== 0) log(`natlab: could not delete namespace ${ns}: ${result.stderr?.trim()}`);
    }
    this.created = [];
    rmSync(this.dir, { recursive: true, force: true });
  }
}
