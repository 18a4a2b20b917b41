// A real redis-server for the browser tests, as crates/server/tests/common/redis.rs starts one
// for the server's: on a free loopback port, in a temp folder of its own, its append-only file
// synced on every write (as docs/store.md asks of a production Redis), no RDB snapshots.
// `kill()` is a crash (SIGKILL), `restart()` brings it back on the same port and folder, so from
// the same append-only file. The process is killed and its folder removed when the test is
// done (`redisFor`), and in any case when this Node process exits (also on a failure, an
// uncaught error, SIGINT or SIGTERM).
//
// scripts/setup installs Debian's redis-server. Where it is missing, redisInstalled() is false
// and the tests skip, but on CI (`CI` set), where they fail instead.

import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const REDIS_BIN = process.env.REDIS_SERVER || '/usr/bin/redis-server';
const START_TIMEOUT_MS = 15_000;

// Settings beyond the durable defaults, e.g. E2E_REDIS_ARGS='--appendonly no' to see the
// durability tests fail against a Redis that loses acknowledged writes in a crash.
const EXTRA_ARGS = (process.env.E2E_REDIS_ARGS ?? '').split(/\s+/).filter(Boolean);

/** Is redis-server there to be started? */
export function redisInstalled() {
  const r = spawnSync(REDIS_BIN, ['--version'], { stdio: 'ignore' });
  return r.status === 0;
}

/**
 * Skips test `t` (returns true) when redis-server is not installed, except on CI, where it
 * throws: the Redis tests must not quietly stop running there.
 */
export function skipWithoutRedis(t) {
  if (redisInstalled()) return false;
  const why = `${REDIS_BIN} is not installed (scripts/setup installs it)`;
  if (process.env.CI) throw new Error(`on CI: ${why}`);
  t.skip(why);
  return true;
}

// Every Redis this process started and has not stopped yet: killed on the way out.
const live = new Set();

function cleanUpAll() {
  for (const redis of live) redis.cleanUpNow();
}
process.on('exit', cleanUpAll);
for (const signal of ['SIGINT', 'SIGTERM']) {
  process.once(signal, () => {
    cleanUpAll();
    process.kill(process.pid, signal);
  });
}

/** Starts a Redis for test `t` (redisFor), stopped and its folder removed after it. */
export async function redisFor(t, options) {
  const redis = await startRedis(options);
  t.after(() => redis.stop());
  return redis;
}

/**
 * A new redis-server on a free loopback port, in a new temp folder; resolves once it answers
 * PING. { port, url, dir, log(), kill(), restart(), stop() }.
 */
export async function startRedis({ name = 'e2e', args = [] } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), `commonplace-redis-${name}-`));
  const extra = [...EXTRA_ARGS, ...args];
  let child = null;
  let exited = null;
  let port = 0;

  const launch = async () => {
    const proc = spawn(REDIS_BIN, [
      '--port', String(port), '--bind', '127.0.0.1', '--dir', dir,
      '--appendonly', 'yes', '--appendfsync', 'always', '--save', '',
      '--logfile', path.join(dir, 'redis.log'),
      ...extra,
    ], { stdio: 'ignore' });
    const exit = new Promise((resolve) => proc.once('exit', (code, signal) => resolve({ code, signal })));
    proc.once('error', () => {});
    child = proc;
    exited = exit;
    const deadline = Date.now() + START_TIMEOUT_MS;
    let gone = null;
    exit.then((e) => { gone = e; });
    for (;;) {
      if (gone) return false;
      if (await ping(port)) return true;
      if (Date.now() > deadline) {
        proc.kill('SIGKILL');
        await exit;
        throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms; its log:\n${redisLog()}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  };

  const redisLog = () => { try { return readFileSync(path.join(dir, 'redis.log'), 'utf8'); } catch { return '<no log>'; } };

  const redis = {
    get port() { return port; },
    get url() { return `redis://127.0.0.1:${port}/0`; },
    dir,
    /** Redis's own log (redis.log in its folder). */
    log: redisLog,
    /** SIGKILL: a crash, nothing flushed on the way out. */
    async kill() {
      if (!child) return;
      const proc = child;
      const exit = exited;
      child = null;
      proc.kill('SIGKILL');
      await exit;
    },
    /** Starts again on the same port and folder (so from the same append-only file), after kill(). */
    async restart() {
      if (child) throw new Error('restart() a Redis that is running: kill() it first');
      const deadline = Date.now() + START_TIMEOUT_MS;
      // The port may linger for a moment after the kill.
      while (!(await launch())) {
        if (Date.now() > deadline) throw new Error(`redis-server did not start again on port ${port}; its log:\n${redisLog()}`);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    },
    /** Kills it and removes its folder (stopping twice is fine). */
    async stop() {
      await redis.kill();
      live.delete(redis);
      rmSync(dir, { recursive: true, force: true });
    },
    // Synchronous, for process exit.
    cleanUpNow() {
      try { child?.kill('SIGKILL'); } catch { /* already gone */ }
      child = null;
      live.delete(redis);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  live.add(redis);

  try {
    // A port that was free a moment ago may be taken meanwhile: try another.
    for (let attempt = 0; attempt < 5; attempt++) {
      port = await freePort();
      if (await launch()) return redis;
    }
    throw new Error(`redis-server did not start on any of 5 free ports; its log:\n${redisLog()}`);
  } catch (err) {
    await redis.stop();
    throw err;
  }
}

/** A loopback port that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Does Redis on `port` answer PING with PONG (and not, say, LOADING)? */
function ping(port) {
  return new Promise((resolve) => {
    const socket = net.connect({ port, host: '127.0.0.1' });
    let answer = '';
    const done = (ok) => { clearTimeout(timer); socket.destroy(); resolve(ok); };
    const timer = setTimeout(() => done(false), 1_000);
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      answer += chunk.toString('latin1');
      if (answer.includes('\r\n')) done(answer.startsWith('+PONG\r\n'));
    });
  });
}
