// Where a keystroke's time goes in the browser (script, style, layout, paint): A and B share a
// room, A's home page holds SIZE units (default 100000, wrapped), B's caret sits on the line
// below A's, and A types KEYS keys (default 20) 60 ms apart under Chromium's tracing. Prints, per
// key, A's renderer main-thread events of MIN ms or more (default 0.2) and the compositor's, ms
// after that key's keydown, then a summary line a key. Asserts nothing; the trace is left in .artifacts/typing_trace.json.
//   node tests/e2e/typing_trace.mjs [SIZE] [KEYS] [MIN]
// TYPING_TRACE_CSS="#editor { ... }" adds a style sheet to A's page first (to try a style out).
import { withServerAndBrowser, closeUsers, sleep, artifactPath, readTrace } from './harness.mjs';
import { openTypingPair } from './typing_pair.mjs';

const TRACE = artifactPath('typing_trace.json');
const size = Number(process.argv[2] ?? 100000);
const keys = Number(process.argv[3] ?? 20);
// Without MIN only the summary lines are printed.
const min = process.argv[4] === undefined ? null : Number(process.argv[4]);
// What a frame's main-thread work is made of; everything else of MIN ms or more is shown too.
const NAMES = new Set(['EventDispatch', 'FunctionCall', 'TimerFire', 'FireAnimationFrame', 'RunMicrotasks',
  'UpdateLayoutTree', 'Layout', 'PrePaint', 'Paint', 'Layerize', 'Commit', 'HitTest', 'ParseHTML',
  'ScheduleStyleRecalculation', 'InvalidateLayout', 'UpdateLayerTree', 'IntersectionObserverController::computeIntersections']);

await withServerAndBrowser(async ({ server, browser }) => {
  const { a, b } = await openTypingPair(browser, server, size, 'ttrace');
  if (process.env.TYPING_TRACE_CSS) await a.addStyleTag({ content: process.env.TYPING_TRACE_CSS });
  await a.keyboard.type('warm up ', { delay: 60 });
  await sleep(1000);
  await browser.startTracing(a, {
    path: TRACE,
    categories: ['devtools.timeline', 'disabled-by-default-devtools.timeline', 'blink', 'toplevel', 'cc', 'viz', 'benchmark'],
  });
  await a.keyboard.type('the quick brown fox jumps over the lazy dog '.repeat(4).slice(0, keys), { delay: 60 });
  await sleep(500);
  await browser.stopTracing();
  await closeUsers(a, b);
});

const { events: ev, threads } = readTrace(TRACE);
// A's renderer is the one whose main thread dispatched the keydowns.
const downs = ev.filter((e) => e.name === 'EventDispatch' && e.args?.data?.type === 'keydown' && threads[`${e.pid}:${e.tid}`] === 'CrRendererMain')
  .sort((x, y) => x.ts - y.ts);
if (!downs.length) throw new Error('no keydown in the trace');
const pid = downs[0].pid;
const main = `${pid}:${downs[0].tid}`;
const compositor = Object.keys(threads).find((k) => k.startsWith(`${pid}:`) && threads[k] === 'Compositor');
const shown = ev.filter((e) => e.ph === 'X' && (`${e.pid}:${e.tid}` === main || `${e.pid}:${e.tid}` === compositor)
  && (e.dur ?? 0) >= min * 1000 && (NAMES.has(e.name) || e.dur >= 1000)).sort((x, y) => x.ts - y.ts);
const totals = {};
if (min !== null) downs.forEach((down, i) => {
  const end = downs[i + 1]?.ts ?? Infinity;
  console.log(`key ${i + 1}`);
  for (const e of shown.filter((x) => x.ts >= down.ts && x.ts < end)) {
    const where = `${e.pid}:${e.tid}` === main ? 'main' : 'comp';
    const what = e.args?.data?.type || e.args?.data?.functionName || '';
    console.log(`  @${((e.ts - down.ts) / 1000).toFixed(1).padStart(6)} ${where} ${(e.dur / 1000).toFixed(2).padStart(6)} ms ${e.name} ${what}`);
    if (where === 'main') totals[e.name] = (totals[e.name] ?? 0) + e.dur / 1000;
  }
});
// One line a key: the browser's own insertion (which dispatches the input event, so the app's
// handler is inside it), the layout it forces, the app's input handler, the first frame after
// it and when its main-thread work ended; then the CPU time (the thread's clock, which the
// other processes on a busy machine do not inflate) of the same, and of all the main thread's
// tasks until the next key, in A's renderer and in B's (which applies each key A types).
const on = (thread) => (e) => `${e.pid}:${e.tid}` === thread && e.ph === 'X';
const within = (thread, name, from, to) => ev.filter((e) => on(thread)(e) && e.name === name && e.ts >= from && e.ts < to);
const wall = (list) => list.reduce((sum, e) => sum + e.dur, 0) / 1000;
const cpu = (list) => list.reduce((sum, e) => sum + (e.tdur ?? e.dur), 0) / 1000;
const other = Object.keys(threads).find((k) => threads[k] === 'CrRendererMain' && k !== main
  && ev.some((e) => `${e.pid}:${e.tid}` === k && e.name === 'ProxyMain::BeginMainFrame'));
const summary = {};
downs.forEach((down, i) => {
  const end = downs[i + 1]?.ts ?? Infinity;
  const insert = within(main, 'TypingCommand::InsertText', down.ts, end);
  const layout = insert[0] ? within(main, 'Layout', insert[0].ts, insert[0].ts + insert[0].dur) : [];
  const input = ev.filter((e) => on(main)(e) && e.name === 'EventDispatch' && e.args?.data?.type === 'input' && e.ts >= down.ts && e.ts < end);
  const after = input[0] ? input[0].ts + input[0].dur : down.ts;
  const frame = within(main, 'ProxyMain::BeginMainFrame', after, end).slice(0, 1);
  const row = {
    insert: wall(insert), layout: wall(layout), input: wall(input), frame: wall(frame),
    painted: frame[0] ? (frame[0].ts + frame[0].dur - down.ts) / 1000 : NaN,
    'cpu insert': cpu(insert), 'cpu layout': cpu(layout), 'cpu input': cpu(input), 'cpu frame': cpu(frame),
    'cpu A tasks': cpu(within(main, 'RunTask', down.ts, end)),
    'cpu B tasks': other ? cpu(within(other, 'RunTask', down.ts, end)) : NaN,
  };
  for (const [k, v] of Object.entries(row)) (summary[k] ??= []).push(v);
  console.log(`key ${String(i + 1).padStart(3)}: ${Object.entries(row).map(([k, v]) => `${k} ${v.toFixed(1)}`).join(', ')}`);
});
const median = (v) => [...v].sort((x, y) => x - y)[Math.floor(v.length / 2)];
console.log(`medians (ms): ${Object.entries(summary).map(([k, v]) => `${k} ${median(v).toFixed(1)}`).join(', ')}`);
if (min !== null) console.log(`main-thread totals over ${downs.length} keys (nested events counted in each):`);
if (min !== null) for (const [name, ms] of Object.entries(totals).sort((x, y) => y[1] - x[1])) console.log(`  ${name.padEnd(40)} ${(ms / downs.length).toFixed(2)} ms per key`);
