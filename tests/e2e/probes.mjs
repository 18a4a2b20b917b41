// What benchmarks measure in pages, shared by bench.mjs and path_bench.mjs: functions run inside a
// page (page.evaluate), and the keystroke-latency run built on them.

import { typeText, waitForValue } from './harness.mjs';

const round1 = (x) => Math.round(x * 10) / 10;

export function quantile(xs, q) {
  const s = [...xs].sort((x, y) => x - y);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(q * s.length) - 1))];
}

// In A: when each key goes down (capture phase, before the app sees it).
function recordKeydowns() {
  window.__benchKeys = [];
  window.addEventListener('keydown', () => window.__benchKeys.push(performance.timeOrigin + performance.now()), true);
}

// In A: every frame it sends on a data channel, by y-webrtc message type (0 sync, 1 awareness).
function countSentFrames() {
  const counts = (window.__benchFrames = {});
  const send = RTCDataChannel.prototype.send;
  RTCDataChannel.prototype.send = function (data) {
    const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : ArrayBuffer.isView(data) ? new Uint8Array(data.buffer, data.byteOffset, 1) : null;
    const kind = bytes?.length ? ({ 0: 'sync', 1: 'awareness' }[bytes[0]] ?? `type ${bytes[0]}`) : 'other';
    counts[kind] = (counts[kind] ?? 0) + 1;
    return send.call(this, data);
  };
}

// In B: when the editor's text length changes. Wrapping the textarea's value setter and
// setRangeText catches the exact moment the app writes it; a 4 ms poll catches any other way
// (and marks those records, since they are up to 4 ms late).
function recordChanges() {
  const el = document.querySelector('#editor');
  const seen = (window.__benchSeen = []);
  let last = el.value.length;
  const check = (how) => {
    const n = el.value.length;
    if (n !== last) {
      last = n;
      seen.push({ len: n, t: performance.timeOrigin + performance.now(), how });
    }
  };
  const proto = HTMLTextAreaElement.prototype;
  const value = Object.getOwnPropertyDescriptor(proto, 'value');
  Object.defineProperty(el, 'value', {
    configurable: true,
    get() { return value.get.call(this); },
    set(v) { value.set.call(this, v); check('value'); },
  });
  el.setRangeText = function (...args) {
    proto.setRangeText.apply(this, args);
    check('setRangeText');
  };
  setInterval(() => check('poll'), 0);
}

/**
 * Keystroke latency between two connected pages: A presses `warmup + keys` keys one by one; for
 * each, the time from its keydown in A to the editor's text growing in B (one machine, one
 * clock). Figures over the last `keys`, and the frames A sent per key.
 */
export async function keystrokesAcross(a, b, { warmup, keys }) {
  await typeText(a, 'x');
  await waitForValue(b, 'x', { name: 'B', timeout: 30_000 });
  await a.evaluate(recordKeydowns);
  await a.evaluate(countSentFrames);
  await b.evaluate(recordChanges);

  const alphabet = 'abcdefghijklmnopqrstuvwxyz';
  const base = 1;
  const total = warmup + keys;
  for (let i = 0; i < total; i++) {
    await a.keyboard.press(alphabet[i % alphabet.length]);
    await b.waitForFunction((n) => document.querySelector('#editor').value.length >= n, base + i + 1, { timeout: 10_000, polling: 5 })
      .catch(() => { throw new Error(`keystroke ${i + 1} did not reach B within 10 s`); });
  }
  // Frames trail their key by a moment (the caret's selectionchange comes after the input).
  await new Promise((r) => setTimeout(r, 300));
  const frames = await a.evaluate(() => window.__benchFrames);
  const pressed = await a.evaluate(() => window.__benchKeys);
  const seen = await b.evaluate(() => window.__benchSeen);
  if (pressed.length !== total) throw new Error(`A recorded ${pressed.length} key presses, expected ${total}`);
  const latencies = [];
  let polled = 0;
  for (let i = warmup; i < total; i++) {
    const arrival = seen.find((s) => s.len >= base + i + 1);
    if (!arrival) throw new Error(`B never recorded keystroke ${i + 1}`);
    latencies.push(arrival.t - pressed[i]);
    if (arrival.how === 'poll') polled++;
  }
  return {
    keystrokes: latencies.length,
    p50: round1(quantile(latencies, 0.5)),
    p90: round1(quantile(latencies, 0.9)),
    p99: round1(quantile(latencies, 0.99)),
    max: round1(Math.max(...latencies)),
    mean: round1(latencies.reduce((s, x) => s + x, 0) / latencies.length),
    seenByPolling: polled,
    framesPerKey: Object.fromEntries(Object.entries(frames).map(([k, n]) => [k, round1(n / total)])),
  };
}
