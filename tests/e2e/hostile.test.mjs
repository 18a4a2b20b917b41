// Hostile peers (docs/hostile-peers.md): a room of two Commonplace users, A and B, and a third
// peer that speaks the wire protocol itself (tests/e2e/hostile_peer.mjs) and sends both of them
// what no honest peer would. For each case: A and B type before and while it happens; afterwards
// both show everything they typed, the same text, and so does A after a reload (from its own
// storage: the hostile peer and B are gone, the server keeps no copy); no page error (a panic is one);
// what should be dropped or bounded is; and the longest main-thread task each victim had while
// it happened is reported (and must be under 200 ms where the input is dropped).

import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  setUpFile, server, browser, openPerson, newRoomName, newRoomKey, keyedRoomUrl, waitForPeers, typeText, editorValue, waitForReady,
  assertNoPageErrors, yjsWebrtcBundle, sleep, setCaret, closeUsers,
} from './harness.mjs';
import { openHostilePeer } from './hostile_peer.mjs';

const CASE_TIMEOUT_MS = 120_000;
const FLOOD_MS = Number(process.env.HOSTILE_FLOOD_MS ?? 3_000);
/** A main-thread task longer than this while a victim drops input is a failure. */
const DROPPED_TASK_BOUND_MS = 200;
/** The most people a victim lists: itself and presence.rs MAX_OTHERS others (B among them). */
const MAX_LISTED = 1 + 128;

// No server copy: after the reload, A's notebook is what A itself stored.
setUpFile({ prepare: yjsWebrtcBundle, serverArgs: ['--no-store'] });

const results = [];

/** Runs before the app: the longest main-thread task (PerformanceObserver 'longtask') since the last reset. */
function longTaskProbe(context) {
  return context.addInitScript(() => {
    window.__longest = 0;
    window.__longestAt = 0;
    new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        if (entry.duration <= window.__longest) continue;
        window.__longest = entry.duration;
        window.__longestAt = entry.startTime;
      }
    }).observe({ type: 'longtask', buffered: true });
    // The app's own steps (src/perf.rs: `cp:` measures of 4 ms or more) within the longest task:
    // what a failure's message says it was made of.
    window.__longestSteps = () => {
      const [from, to] = [window.__longestAt, window.__longestAt + window.__longest];
      const steps = new Map();
      for (const m of performance.getEntriesByType('measure')) {
        if (!m.name.startsWith('cp:') || m.startTime + m.duration < from || m.startTime > to) continue;
        const step = steps.get(m.name) ?? { count: 0, ms: 0, longestMs: 0 };
        step.count += 1;
        step.ms += m.duration;
        step.longestMs = Math.max(step.longestMs, m.duration);
        steps.set(m.name, step);
      }
      return [...steps].map(([name, { count, ms, longestMs }]) =>
        `${name} ×${count} ${ms.toFixed(0)} ms (longest ${longestMs.toFixed(0)})`).join(', ') || 'no step of 4 ms or more';
    };
    // And the longest wait for a frame to be drawn: a main thread kept busy by many short tasks
    // shows nothing new either, and no long task says so.
    window.__frameGap = 0;
    let last = 0;
    const frame = (t) => {
      if (last) window.__frameGap = Math.max(window.__frameGap, t - last);
      last = t;
      requestAnimationFrame(frame);
    };
    requestAnimationFrame(frame);
  });
}

/**
 * Counts what the app says it dropped (its "dropped:" warnings: a reason each, and past 16 in
 * one batch "N more like those") and keeps the reasons (the first 500).
 */
function dropCounter(page) {
  const drops = { count: 0, reasons: [] };
  page.on('console', (msg) => {
    const text = msg.text();
    if (!text.startsWith('dropped:')) return;
    const more = /^dropped: (\d+) more like those/.exec(text);
    drops.count += more ? Number(more[1]) : 1;
    if (!more && drops.reasons.length < 500) drops.reasons.push(text);
  });
  return drops;
}

/** Everything the page's editor holds contains every one of `texts`, and A's equals B's. */
async function waitForHonestText(a, b, texts, { timeout = 60_000 } = {}) {
  const deadline = Date.now() + timeout;
  let seen;
  for (;;) {
    seen = await Promise.all([editorValue(a), editorValue(b)]);
    if (seen[0] === seen[1] && texts.every((t) => seen[0].includes(t))) return seen[0];
    if (Date.now() > deadline) {
      const missing = seen.map((v) => texts.filter((t) => !v.includes(t)));
      for (const [who, page] of [['A', a], ['B', b]]) {
        console.log(`[hostile] ${who}'s sync state: ${await page.evaluate(() => window.commonplaceSyncState?.()).catch((e) => e.message)}`);
        console.log(`[hostile] ${who}'s page text: ${await page.evaluate(() => window.commonplacePageText().length)} units, its editor ${await page.evaluate(() => document.querySelector('#editor').value.length)}`);
      }
      assert.fail(`A and B did not converge on everything they typed within ${timeout} ms: missing on A ${JSON.stringify(missing[0])}, on B ${JSON.stringify(missing[1])}; same text: ${seen[0] === seen[1]} (lengths ${seen[0].length}, ${seen[1].length})`);
    }
    await sleep(100);
  }
}

/**
 * Waits (up to `timeout` ms) until each victim has said it dropped at least `count` frames: the
 * hostile peer's last frames may still be on their way when the honest text has settled.
 */
async function waitForDrops(drops, count, timeout) {
  const deadline = Date.now() + timeout;
  while (Object.values(drops).some((d) => d.count < count) && Date.now() < deadline) await sleep(50);
}

/**
 * One case: a fresh room of A, B and the hostile peer; A and B type, `attack(hostile, { a, b })`
 * runs while they type more, then `check({ a, b, hostile, drops, text })`; its figures are printed and kept in `results`.
 * `dropsAtLeast`: the victims' main threads are measured until each has dropped that many frames.
 */
function hostileCase(name, { dropped, attack, check, timeout = 60_000, keyed = false, dropsAtLeast = 0 }) {
  test(`hostile peer: ${name}`, { timeout: CASE_TIMEOUT_MS }, async (t) => {
    // In a keyed room the hostile peer has the secret too (a member): signaling is encrypted.
    const room = newRoomName('hostile');
    const key = keyed ? newRoomKey() : undefined;
    const url = keyedRoomUrl(server, room, key);
    const options = { setup: longTaskProbe, ignoreConsole: /^dropped:/ };
    const [a, b] = [await openPerson(t, url, 'A', options), await openPerson(t, url, 'B', options)];
    const drops = { A: dropCounter(a), B: dropCounter(b) };
    const hostile = await openHostilePeer(browser, server, room, { key });
    t.after(() => hostile.close());
    await Promise.all([waitForPeers(a, 2), waitForPeers(b, 2), hostile.waitForPeers(2)]);

    const tag = Math.random().toString(36).slice(2, 7);
    const typed = { a1: `A before ${tag}. `, b1: `B before ${tag}. `, a2: `A during ${tag}. `, b2: `B during ${tag}. ` };
    // A writes at the end and B at the start: what one types never lands inside what the other
    // is typing (two people typing at one place while their texts cross in flight split each
    // other's runs there, as Yjs orders concurrent inserts; nothing is lost, but no run is whole).
    await typeText(a, typed.a1, { at: 'end' });
    await typeText(b, typed.b1, { at: 0 });
    await waitForHonestText(a, b, [typed.a1, typed.b1], { timeout: 15_000 });
    // The hostile peer has seen both write: it knows their client ids and clocks.
    await hostile.page.waitForFunction(() => window.__hostile.victims().length >= 2, null, { timeout: 15_000 });

    await Promise.all([a, b].map((p) => p.evaluate(() => { window.__longest = 0; window.__frameGap = 0; })));
    const started = Date.now();
    const attacking = attack(hostile, { a, b });
    await sleep(200);
    // Both are ready: typeText's wait for that polls on animation frames, which a flood delays.
    for (const [page, text, at] of [[a, typed.a2, 'end'], [b, typed.b2, 0]]) {
      await setCaret(page, at);
      await page.keyboard.type(text);
    }
    const sent = await attacking;
    console.log(`[hostile] ${name}: sent in ${Date.now() - started} ms: ${JSON.stringify(sent)}`);
    const text = await waitForHonestText(a, b, Object.values(typed), { timeout });
    const settledMs = Date.now() - started;
    await waitForDrops(drops, dropsAtLeast, timeout);
    const longest = await Promise.all([a, b].map((p) => p.evaluate(() => window.__longest)));
    const frameGap = await Promise.all([a, b].map((p) => p.evaluate(() => window.__frameGap)));
    const steps = await Promise.all([a, b].map((p) => p.evaluate(() => window.__longestSteps()).catch((err) => err.message)));
    const row = { name, sent, longestTaskMs: longest.map(Math.round), longestFrameGapMs: frameGap.map(Math.round), settledMs, textLength: text.length,
      drops: { A: drops.A.count, B: drops.B.count }, longestTaskSteps: { A: steps[0], B: steps[1] } };
    console.log(`[hostile] ${JSON.stringify(row)}`);
    if (check) await check({ a, b, hostile, drops, text });
    assertNoPageErrors(a, b);
    if (dropped) {
      for (const [who, ms, inIt] of [['A', longest[0], steps[0]], ['B', longest[1], steps[1]]]) {
        assert.ok(ms < DROPPED_TASK_BOUND_MS, `${who}'s longest main-thread task while dropping ${name} was ${Math.round(ms)} ms; in it: ${inIt}`);
      }
    }

    // And it was stored: A, reloaded alone (the hostile peer and B gone, no server copy), still has it.
    assertNoPageErrors(a, b);
    await hostile.close();
    await closeUsers(b);
    await a.reload({ waitUntil: 'load' });
    await waitForReady(a, { name: 'A' });
    await a.waitForFunction((want) => want.every((s) => document.querySelector('#editor').value.includes(s)),
      Object.values(typed), { timeout: 20_000, polling: 50 }).catch(async () => {
      assert.fail(`after a reload A lacks some of what was typed: ${JSON.stringify(await editorValue(a))}`);
    });
    assertNoPageErrors(a);
    row.survivedReload = true;
    results.push(row);
  });
}

const malformed = {
  dropped: true,
  dropsAtLeast: 101,
  attack: (hostile) => hostile.run(async (h) => {
    const { frames, head, concat, Y } = h;
    const junk = (n, seed) => Uint8Array.from({ length: n }, (_, i) => (i * 131 + seed * 17) % 256);
    // A valid update whose parent is nowhere (its origin names an item nobody has).
    const doc = new Y.Doc();
    doc.getText('page').insert(0, 'base');
    const sv = Y.encodeStateVector(doc);
    doc.getText('page').insert(4, 'orphan');
    const orphan = Y.encodeStateAsUpdate(doc, sv);
    const sent = [
      new Uint8Array(0), // empty
      Uint8Array.of(0), // sync without a step
      Uint8Array.of(0, 9, 1, 0), // unknown step
      Uint8Array.of(0, 0, 200), // step 1 cut short
      concat([head(0, 0), head(2 ** 31)]), // step 1 claiming a 2 GB state vector
      frames.step1(junk(64, 1)), // a state vector that is not one
      frames.step1(Uint8Array.of(255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1)), // varUint overflow
      frames.step2(junk(512, 2)), // step 2 with garbage
      frames.update(junk(4096, 3)), // update with garbage
      frames.update(Uint8Array.of(1, 1, 5, 0, 0xff)), // truncated update
      frames.update(orphan.subarray(0, orphan.length - 3)), // a real update, cut short
      frames.update(orphan), // a real update building on nothing anyone has: held, never shown
      Uint8Array.of(1, 5, 1), // awareness cut short
      frames.awareness([{ client: 7, clock: 1, json: '{not json' }]),
      concat([head(1), head(1_000_000)]), // awareness claiming a million entries
      Uint8Array.of(101), // a chunk with nothing in it
      frames.chunk(9, 0, 8, Uint8Array.of(101, 1, 0, 1, 1, 0, 0, 0)), // a chunk of chunks
      frames.chunk(9, 5, 10, Uint8Array.of(1, 2)), // a chunk out of sequence
      Uint8Array.of(200, 1, 2, 3), // unknown message type
    ];
    for (let round = 0; round < 20; round++) {
      for (const frame of sent) await h.send(frame);
      for (let i = 0; i < 50; i++) await h.send(junk(1 + ((i * 37) % 3000), round * 50 + i)); // random bytes
    }
    return { frames: 20 * (sent.length + 50) };
  }),
  check: async ({ drops, text }) => {
    assert.ok(!text.includes('orphan'), 'an update building on missing items was shown');
    for (const who of ['A', 'B']) assert.ok(drops[who].count > 100, `${who} logged only ${drops[who].count} dropped frames`);
  },
};
hostileCase('malformed sync messages', malformed);
hostileCase('malformed sync messages, in a keyed room', { ...malformed, keyed: true });

hostileCase('updates forged under the victims\' client ids, clocks colliding', {
  dropped: false,
  attack: (hostile) => hostile.run(async (h) => {
    const victims = h.victims();
    for (const { client, clock } of victims) {
      // What this client has written so far, under its id, clock by clock: a collision with what is there.
      await h.send(h.frames.update(h.forgedUpdate(client, 0, `[forged-old-${client}]`)));
      // And from its clock on: where its next keystroke will go.
      await h.send(h.frames.update(h.forgedUpdate(client, clock, `[forged-next-${client}]`)));
    }
    return { victims };
  }),
  check: async ({ text }) => {
    assert.ok(!text.includes('[forged-old'), 'an update colliding with what a victim wrote replaced it');
  },
});

hostileCase('updates forged under the victims\' client ids, clocks jumping ahead', {
  dropped: true,
  attack: (hostile) => hostile.run(async (h) => {
    const victims = h.victims();
    for (const { client, clock } of victims) {
      await h.send(h.frames.update(h.forgedUpdate(client, clock + 1_000_000, `[forged-ahead-${client}]`)));
    }
    return { victims };
  }),
  check: async ({ text }) => {
    assert.ok(!text.includes('[forged-ahead'), 'an update past a victim\'s clock was shown');
  },
});

/** How many people a victim lists: { listed }. */
async function presenceSize(page) {
  return page.evaluate(() => ({ listed: document.querySelectorAll('li.person').length }));
}

hostileCase('an awareness state of 1 MB', {
  dropped: true,
  attack: (hostile) => hostile.run(async (h) => {
    const json = JSON.stringify({ user: { name: `Mallory ${'M'.repeat(1 << 20)}`, color: '#ff0000' }, cursor: null });
    await h.send(h.frames.awareness([{ client: 4242, clock: 1, json }]));
    return { bytes: json.length };
  }),
  check: async ({ a, b }) => {
    for (const page of [a, b]) {
      const listed = await page.$$eval('li.person', (items) => items.map((li) => li.getAttribute('data-client')));
      assert.ok(!listed.includes('4242'), 'a 1 MB awareness state was kept');
    }
  },
});

hostileCase('awareness with 10,000 entries', {
  dropped: true,
  attack: (hostile) => hostile.run(async (h) => {
    const entries = Array.from({ length: 10_000 }, (_, i) => ({
      client: 1_000_000 + i, clock: 1, json: JSON.stringify({ user: { name: `Mallory ${i}`, color: '#ff0000' }, cursor: null }),
    }));
    await h.send(h.frames.awareness(entries));
    return { entries: entries.length };
  }),
  check: async ({ a, b }) => {
    for (const [who, page] of [['A', a], ['B', b]]) {
      const { listed } = await presenceSize(page);
      assert.ok(listed <= MAX_LISTED, `${who} lists ${listed} people`);
    }
  },
});

hostileCase('a chunk stream claiming 4 GB', {
  dropped: true,
  dropsAtLeast: 200,
  attack: (hostile) => hostile.run(async (h) => {
    const total = 4 * 2 ** 30;
    // Pieces small enough that the frame goes as one message (not chunked again by send).
    const piece = new Uint8Array(32 * 1024).fill(7);
    // The claim, then 100 chunks continuing it (6 MB), then the claim again, as another message.
    for (const id of [500, 501]) {
      for (let i = 0; i < 100; i++) await h.send(h.frames.chunk(id, i * piece.length, total, piece));
    }
    return { claimed: total, chunks: 200 };
  }),
  check: async ({ drops }) => {
    // Refused at its first chunk (nothing kept: what follows it continues nothing).
    for (const who of ['A', 'B']) {
      assert.ok(drops[who].reasons.some((l) => l.includes('TooLarge')),
        `${who} did not refuse the 4 GB claim: ${JSON.stringify(drops[who].reasons.slice(0, 5))}`);
      assert.ok(drops[who].count >= 200, `${who} dropped only ${drops[who].count} of the 200 chunks`);
    }
  },
});

hostileCase('an update inserting 50 MB', {
  dropped: false,
  timeout: 90_000,
  attack: (hostile) => hostile.run(async (h) => {
    const { Y } = h;
    const doc = new Y.Doc();
    const page = new Y.Map();
    doc.getMap('pages').set('hostile50mb0', page);
    page.set('title', 'Fifty megabytes');
    page.set('order', 1e9);
    page.set('body', new Y.Text('x'.repeat(50 * 1024 * 1024)));
    const update = Y.encodeStateAsUpdate(doc);
    await h.send(h.frames.update(update));
    return { bytes: update.length };
  }),
  check: async ({ a, b }) => {
    // Accepted: a room member may write a big page. It is listed, and the home page is unharmed.
    for (const page of [a, b]) await page.waitForSelector('li.page-item[data-page="hostile50mb0"]', { state: 'attached', timeout: 30_000 });
  },
});

hostileCase('10,000 pages at once', {
  dropped: false,
  attack: (hostile) => hostile.run(async (h) => {
    const { Y } = h;
    const doc = new Y.Doc();
    doc.transact(() => {
      for (let i = 0; i < 10_000; i++) {
        const page = new Y.Map();
        doc.getMap('pages').set(`hostile${String(i).padStart(5, '0')}`, page);
        page.set('title', `Spam ${i}`);
        page.set('order', 1e9 + i);
        page.set('body', new Y.Text(`spam page ${i} [[Spam ${i + 1}]]`));
      }
    });
    const update = Y.encodeStateAsUpdate(doc);
    await h.send(h.frames.update(update));
    return { pages: 10_000, bytes: update.length };
  }),
});

hostileCase('a flood of 10,000 small updates a second, for 3 s', {
  dropped: false,
  timeout: 90_000,
  attack: (hostile) => hostile.run(async (h, floodMs) => {
    const { Y } = h;
    const doc = new Y.Doc();
    const text = doc.getText('page');
    let updates = [];
    doc.on('update', (u) => updates.push(u));
    let sent = 0;
    const start = performance.now();
    // 100 updates every 10 ms: one character each, at the start of the home page.
    while (performance.now() - start < floodMs) {
      const due = Math.floor((performance.now() - start) / 10) * 100 + 100;
      while (sent < due) {
        text.insert(text.length, '~');
        sent += 1;
      }
      const frames = updates.map((u) => h.frames.update(u));
      updates = [];
      for (const frame of frames) await h.send(frame);
      await h.sleep(10 - ((performance.now() - start) % 10));
    }
    return { updates: sent, seconds: (performance.now() - start) / 1000 };
  }, FLOOD_MS),
  check: async ({ text }) => {
    assert.ok(text.includes('~~~~~~~~~~'), 'the flood\'s text (accepted by design) is not there');
  },
});

test('hostile peer: the figures', () => {
  for (const row of results) console.log(`[hostile] ${row.name}: longest task A ${row.longestTaskMs[0]} ms, B ${row.longestTaskMs[1]} ms; settled in ${row.settledMs} ms; dropped frames A ${row.drops.A}, B ${row.drops.B}`);
});
