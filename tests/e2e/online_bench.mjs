// Prints how fast two people who were cut apart are merged again once the network is back, side
// by side with a stock Yjs + y-webrtc app (yjs_app.mjs) in the same run; asserts nothing about
// speed.
//   node tests/e2e/online_bench.mjs [--runs N] [--apart MS]
//
// In the NAT lab (natlab.mjs; needs root, skipped otherwise): A behind router 1, B behind router 2,
// cone NATs, the real server with STUN from the lab's coturn. A and B co-edit a keyed room; then
// B's network interface goes down (Wi-Fi off: the browser sees it and goes offline), both type
// while apart, and after --apart ms it comes back up (with its default route). The figure is the
// time from "up" until both editors show both sides' words (polled every 10 ms); median of runs,
// the apps alternating. Results also go to tests/e2e/.artifacts/online_bench.json. Exits 1 only
// if a figure could not be taken.

import { parseArgs } from 'node:util';
import {
  openUser, closeUsers, newRoomName, newRoomKey, keyedRoomUrl, waitForPeers, typeText, waitForValue,
  finishBenchmark, APP_LOAD_TIMEOUT_MS,
} from './harness.mjs';
import { ORIGIN, STUN_URL, createLab, labUnavailable } from './natlab.mjs';
import { quantile } from './probes.mjs';
import { routeYjsApp, yjsLink } from './yjs_app.mjs';

const { values: opts } = parseArgs({ options: { runs: { type: 'string', default: '3' }, apart: { type: 'string', default: '3000' } } });
const RUNS = Number(opts.runs);
const APART_MS = Number(opts.apart);
const STEP_TIMEOUT_MS = 30_000;
const MERGE_TIMEOUT_MS = 30_000;
const YJS_BASE = `${ORIGIN}/yjs-baseline/`;

const results = {};
const problems = [];
const round1 = (x) => Math.round(x * 10) / 10;

const APPS = {
  yjs: {
    label: 'Yjs + y-webrtc',
    link: (room, key) => yjsLink(YJS_BASE, { room, key, signaling: `${ORIGIN.replace('http', 'ws')}/signal`, ice: [{ urls: STUN_URL }] }),
    async open(browser, url) {
      const context = await browser.newContext();
      await routeYjsApp(context, YJS_BASE);
      const page = await context.newPage();
      await page.goto(url, { waitUntil: 'load', timeout: APP_LOAD_TIMEOUT_MS });
      return page;
    },
    append: (page, text) => page.evaluate((t) => window.app.text.insert(window.app.text.length, t), text),
    connected: (page) => page.waitForFunction(() => [...window.app.provider.room?.webrtcConns.values() ?? []].some((c) => c.connected),
      null, { timeout: STEP_TIMEOUT_MS, polling: 20 }),
  },
  ours: {
    label: 'Commonplace',
    link: (room, key) => keyedRoomUrl({ url: `${ORIGIN}/` }, room, key),
    open: (browser, url, name) => openUser(browser, url, { name }),
    append: (page, text) => typeText(page, text, { at: 'end' }),
    connected: (page) => waitForPeers(page, 1, { timeout: STEP_TIMEOUT_MS }),
  },
};

const editorHas = (page, words) => page.waitForFunction((ws) => ws.every((w) => document.getElementById('editor')?.value.includes(w)),
  words, { timeout: MERGE_TIMEOUT_MS, polling: 10 });

async function cutAndMerge(lab, browsers, app, run) {
  const url = app.link(newRoomName('onlinebench'), newRoomKey());
  const pages = [];
  const b2 = lab.ns.c2;
  try {
    pages.push(await app.open(browsers[0], url, 'A'), await app.open(browsers[1], url, 'B'));
    const [a, b] = pages;
    await Promise.all(pages.map((p) => app.connected(p)));
    await app.append(a, 'Together. ');
    await editorHas(b, ['Together. ']);

    lab.ip(b2, 'link', 'set', 'eth0', 'down');
    const words = [`A-apart-${run} `, `B-apart-${run} `];
    await Promise.all([app.append(a, words[0]), app.append(b, words[1])]);
    await new Promise((resolve) => setTimeout(resolve, APART_MS));
    const apartA = await a.evaluate(() => document.getElementById('editor').value);
    if (apartA.includes(words[1])) throw new Error('A saw B\'s words while B was cut off: the cut did not cut');

    lab.ip(b2, 'link', 'set', 'eth0', 'up');
    lab.ip(b2, 'route', 'replace', 'default', 'via', '198.19.2.1');
    const t0 = performance.now();
    await Promise.all([editorHas(a, words), editorHas(b, words)]);
    return performance.now() - t0;
  } finally {
    try { lab.ip(b2, 'link', 'set', 'eth0', 'up'); lab.ip(b2, 'route', 'replace', 'default', 'via', '198.19.2.1'); } catch { /* lab gone */ }
    await closeUsers(...pages);
  }
}

const unavailable = labUnavailable();
if (unavailable) {
  problems.push(`no NAT lab on this machine: ${unavailable}`);
} else {
  const lab = createLab({ nat: 'cone' });
  try {
    await lab.startCoturn({ secret: 'online-bench' });
    await lab.startServer(['--stun', STUN_URL]);
    const browsers = await Promise.all([lab.launchBrowser(1), lab.launchBrowser(2)]);
    const runs = { yjs: [], ours: [] };
    for (let i = 0; i < RUNS; i++) {
      for (const which of ['yjs', 'ours']) {
        try {
          runs[which].push(await cutAndMerge(lab, browsers, APPS[which], i));
        } catch (err) {
          problems.push(`${APPS[which].label}, run ${i + 1}: ${err.message.split('\n')[0]}`);
        }
      }
    }
    for (const [which, xs] of Object.entries(runs)) {
      results[which] = xs.length ? { runs: xs.map(round1), median: round1(quantile(xs, 0.5)) } : { error: 'no run merged' };
    }
  } finally {
    await lab.cleanup();
  }
}

const lines = ['', `Commonplace back-online benchmark (NAT lab; B's interface down ${APART_MS} ms, both type, then up)`, ''];
const cell = (r) => (r?.median !== undefined ? `${r.median} ms` : 'not measured');
lines.push(`  ${''.padEnd(40)} ${'Yjs + y-webrtc'.padStart(16)} ${'Commonplace'.padStart(14)}`);
lines.push(`  ${'network back → merged (median)'.padEnd(40)} ${cell(results.yjs).padStart(16)} ${cell(results.ours).padStart(14)}`);
if (results.yjs?.runs || results.ours?.runs) {
  lines.push(`    runs: Yjs ${results.yjs?.runs?.join(', ') ?? '-'}; Commonplace ${results.ours?.runs?.join(', ') ?? '-'}`);
}
finishBenchmark('online_bench', lines, problems, results);
