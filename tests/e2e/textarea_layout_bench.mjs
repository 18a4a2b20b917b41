// Prints how long the editor's <textarea> takes to lay out a large text under a few CSS
// variants (issue 14, late join: the joiner's own textarea laying out the page was the biggest
// cost). Asserts nothing.
//   node tests/e2e/textarea_layout_bench.mjs [--size UNITS] [--runs N]
// Each run sets the app's #editor value to notebookText(SIZE) (a fresh seed) with the variant's
// styles and times value assignment + a forced layout (scrollHeight), in the app's own page.
import { parseArgs } from 'node:util';
import {
  withServerAndBrowser, openUser, closeUsers, newRoomName, roomUrl, waitForReady, notebookText, withTimeout,
} from './harness.mjs';

const { values: opts } = parseArgs({ options: { size: { type: 'string', default: String(1024 * 1024) }, runs: { type: 'string', default: '3' } } });
const SIZE = Number(opts.size);
const RUNS = Number(opts.runs);

const VARIANTS = {
  baseline: {},
  'wrap=off': { attr: { wrap: 'off' } },
  'white-space: pre': { style: { whiteSpace: 'pre' } },
  'optimizeSpeed': { style: { textRendering: 'optimizeSpeed' } },
  'kerning/ligatures none': { style: { fontKerning: 'none', fontVariantLigatures: 'none' } },
  'all three text props': { style: { textRendering: 'optimizeSpeed', fontKerning: 'none', fontVariantLigatures: 'none' } },
  'font: monospace': { style: { fontFamily: 'monospace' } },
  'pre + optimizeSpeed + none': { attr: { wrap: 'off' }, style: { whiteSpace: 'pre', textRendering: 'optimizeSpeed', fontKerning: 'none', fontVariantLigatures: 'none' } },
  'ASCII only text (baseline css)': { ascii: true },
};

await withServerAndBrowser(async ({ server, browser }) => {
  const page = await openUser(browser, roomUrl(server, newRoomName('layout')), { name: 'L' });
  await waitForReady(page, { name: 'L' });
  const out = {};
  let seed = 1;
  for (let r = 0; r < RUNS; r++) {
    for (const [name, v] of Object.entries(VARIANTS)) {
      const ms = await withTimeout(page.evaluate(`(() => {
        let text = (${notebookText.toString()})(${SIZE}, ${seed++});
        const v = ${JSON.stringify(v)};
        if (v.ascii) text = text.replace(/[^\\x00-\\x7f]/g, 'x');
        const old = document.querySelector('#editor');
        const el = old.cloneNode(false);
        el.removeAttribute('id');
        old.style.display = 'none';
        for (const [k, x] of Object.entries(v.attr ?? {})) el.setAttribute(k, x);
        Object.assign(el.style, v.style ?? {});
        el.style.contain = 'layout paint';
        old.parentNode.appendChild(el);
        el.getBoundingClientRect();
        const t0 = performance.now();
        el.value = text;
        const h = el.scrollHeight;
        const ms = performance.now() - t0;
        el.remove();
        old.style.display = '';
        return ms;
      })()`), 120_000, name);
      (out[name] ??= []).push(Math.round(ms));
    }
  }
  await closeUsers(page);
  console.log(`textarea layout of ${SIZE} units (ms per run, median):`);
  for (const [name, xs] of Object.entries(out)) {
    const s = [...xs].sort((a, b) => a - b);
    console.log(`  ${name.padEnd(32)} ${xs.join(', ').padEnd(24)} median ${s[Math.floor(s.length / 2)]}`);
  }
});
