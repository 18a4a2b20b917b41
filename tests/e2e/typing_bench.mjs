// Prints how fast typing is in a large page with a peer connected; asserts nothing about speed.
//   node tests/e2e/typing_bench.mjs [--keys N] [--sizes 1000,100000,1000000]
// For each page size: A and B share a room; A's home page holds SIZE characters, B's caret sits
// further down the page (so A draws B's caret, and every key A types moves it), and A types
// KEYS characters in the middle of the page, one every 30 ms. Per key, in A's page:
//   - input to paint: keydown's timestamp to the first moment after the next frame was painted
//     (a message posted from requestAnimationFrame runs after that frame's paint);
//   - handler: time spent in the app's input handling (from a capture listener before it to a
//     bubble listener after it on the same event);
//   - the browser's own Event Timing entries of 16 ms or more (the API's floor), if any.
// The figures should not grow with SIZE: nothing per keystroke is proportional to the page.
// Results also go to tests/e2e/.artifacts/typing_bench.json. Exits 1 only if a figure is missing.

import { parseArgs } from 'node:util';
import { withServerAndBrowser, closeUsers, finishBenchmark, withTimeout } from './harness.mjs';
import { openTypingPair } from './typing_pair.mjs';

const { values: opts } = parseArgs({
  options: {
    keys: { type: 'string', default: '200' },
    sizes: { type: 'string', default: '1000,100000,1000000' },
  },
});
const KEYS = Number(opts.keys);
const SIZES = opts.sizes.split(',').map(Number);
const WARMUP_KEYS = 10;

const results = {};
const problems = [];
const lines = ['Typing into a large page with a peer connected (A types, B\'s caret is drawn in A\'s editor)'];

function stats(values) {
  const v = [...values].sort((a, b) => a - b);
  const at = (q) => v[Math.min(v.length - 1, Math.floor(q * v.length))];
  return { n: v.length, p50: at(0.5), p90: at(0.9), p99: at(0.99), max: v[v.length - 1] };
}
const fmt = (s) => `p50 ${s.p50.toFixed(1)} ms, p90 ${s.p90.toFixed(1)}, p99 ${s.p99.toFixed(1)}, max ${s.max.toFixed(1)}`;

/** Installs the per-key probes in A's page (see the header). */
async function installProbes(page) {
  await page.evaluate(() => {
    const probe = { paint: [], handler: [], slow: [] };
    let handlerStart = 0;
    window.addEventListener('keydown', (e) => {
      if (e.key.length !== 1) return;
      const t0 = e.timeStamp;
      requestAnimationFrame(() => {
        const channel = new MessageChannel();
        channel.port1.onmessage = () => probe.paint.push(performance.now() - t0);
        channel.port2.postMessage(0);
      });
    }, true);
    window.addEventListener('input', () => { handlerStart = performance.now(); }, true);
    window.addEventListener('input', () => { probe.handler.push(performance.now() - handlerStart); }, false);
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (['keydown', 'keypress', 'input', 'keyup', 'beforeinput'].includes(entry.name)) probe.slow.push(entry.duration);
      }
    }).observe({ type: 'event', durationThreshold: 16 });
    window.__probe = probe;
  });
}

async function measure(browser, server, size) {
  const { a, b } = await openTypingPair(browser, server, size, 'typing');
  try {
    await installProbes(a);
    const text = 'the quick brown fox jumps over the lazy dog '.repeat(Math.ceil((KEYS + WARMUP_KEYS) / 44));
    await a.keyboard.type(text.slice(0, KEYS + WARMUP_KEYS), { delay: 30 });
    await a.waitForTimeout(300);
    const probe = await a.evaluate(() => window.__probe);
    const typed = await a.$eval('#editor', (el) => Number(el.getAttribute('data-page-length') ?? el.value.length));
    if (typed !== size + KEYS + WARMUP_KEYS) throw new Error(`A's page has ${typed} characters, expected ${size + KEYS + WARMUP_KEYS}`);
    await withTimeout(b.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, typed,
      { timeout: 30_000, polling: 50 }), 31_000, '[B] did not receive every key');
    const paint = stats(probe.paint.slice(WARMUP_KEYS));
    const handler = stats(probe.handler.slice(WARMUP_KEYS));
    // (In a big page, not wrapped, B's caret may be scrolled out of A's view sideways by now.)
    const caretIndex = await a.$$eval('.remote-caret', (els) => (els.length ? Number(els[0].dataset.index) : null));
    return { size, paint, handler, slowEvents: probe.slow.length, slowMax: Math.max(0, ...probe.slow), bCaretIndex: caretIndex };
  } finally {
    await closeUsers(a, b);
  }
}

await withServerAndBrowser(async ({ server, browser }) => {
  for (const size of SIZES) {
    try {
      const r = await measure(browser, server, size);
      results[`size_${size}`] = r;
      lines.push(`  ${String(size).padStart(9)} chars: input→paint ${fmt(r.paint)}; input handler ${fmt(r.handler)}; `
        + `events ≥16 ms: ${r.slowEvents}${r.slowEvents ? ` (max ${r.slowMax.toFixed(0)} ms)` : ''}`);
    } catch (err) {
      problems.push(`${size} chars: ${err.message}`);
      results[`size_${size}`] = { error: err.message };
    }
  }
});
lines.push(`  (${KEYS} keys per size after ${WARMUP_KEYS} warm-up keys, 30 ms apart)`);
finishBenchmark('typing_bench', lines, problems, results);
