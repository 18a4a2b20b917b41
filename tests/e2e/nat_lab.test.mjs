// Reaching people behind NATs, proved with real NATs (natlab.mjs): two Chromiums, each in a
// client namespace behind its own iptables NAT router, the real commonplace-server and a real
// coturn on the lab's "internet". Each scenario co-edits both ways and checks which path the
// people list names (and, independently, the ICE pair Chromium selected):
//   1. cone NATs, --stun                     → a direct path found with STUN (srflx)
//   2. symmetric NATs, --stun only           → the server relays; a keyed room's relayed
//                                              frames are ciphertext at the server
//   3. symmetric NATs, --turn --turn-secret  → a TURN path through coturn
//   4. all UDP dropped at the routers        → the server relays
// Needs root (network namespaces, iptables): skipped, saying so, elsewhere, except in CI (CI
// set), which runs as root and must run them: there the tests fail instead.

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import {
  openUser, waitForPeers, typeText, waitForValue, editorValue, status, peoplePaths, waitForPath, newRoomName, newRoomKey,
  keyedRoomUrl, roomUrl, decryptSignal, assertNoPageErrors, firstLine,
} from './harness.mjs';
import { ORIGIN, SERVER_IP, STUN_URL, TURN_URL, createLab, labUnavailable } from './natlab.mjs';

const unavailable = labUnavailable();
const inCi = !!process.env.CI && !/^(0|false)$/i.test(process.env.CI);
if (unavailable) process.stderr.write(`NAT lab: ${inCi ? 'cannot run in CI' : 'tests skipped'}: ${unavailable}\n`);

/** Skips test `t` where no lab can be built, saying why; in CI that fails instead. */
function needsLab(t) {
  if (!unavailable) return false;
  if (inCi) assert.fail(`CI must run the NAT lab, but ${unavailable}`);
  t.skip(unavailable);
  return true;
}

const TEST_TIMEOUT_MS = 120_000;
/** Relaying starts 5 s after a data channel failed to open (RELAY_AFTER_MS); keyed rooms add PBKDF2. */
const CONNECT_TIMEOUT_MS = 40_000;
/** The people list reads the paths every 3 s. */
const PATH_TIMEOUT_MS = 30_000;
const TURN_SECRET = 'natlab-turn-secret';
const SERVER = { url: `${ORIGIN}/` };

const started = Date.now();
after(() => {
  if (!unavailable) process.stderr.write(`NAT lab: all scenarios took ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
});

/**
 * Keeps every RTCPeerConnection the app makes in window.__natlabPcs, so that the test can read
 * Chromium's own stats (the app's are behind wasm). Changes nothing else.
 */
function trackPeerConnections(context) {
  return context.addInitScript(() => {
    const Native = window.RTCPeerConnection;
    window.__natlabPcs = [];
    window.RTCPeerConnection = class extends Native {
      constructor(...args) {
        super(...args);
        window.__natlabPcs.push(this);
      }
    };
  });
}

/** Chromium's view of each peer connection the app holds: states, selected pair, candidates. */
function iceReport(page) {
  return page.evaluate(() => Promise.all(window.__natlabPcs.filter((pc) => pc.connectionState !== 'closed').map(async (pc) => {
    const stats = [...(await pc.getStats()).values()];
    const byId = (id) => stats.find((s) => s.id === id);
    const describe = (s) => s && { type: s.candidateType, protocol: s.protocol, address: s.address, port: s.port, relayProtocol: s.relayProtocol };
    const transport = stats.find((s) => s.type === 'transport');
    const pair = transport?.selectedCandidatePairId ? byId(transport.selectedCandidatePairId) : null;
    const list = (type) => stats.filter((s) => s.type === type).map((s) => `${s.candidateType}/${s.protocol} ${s.address}:${s.port}`);
    return {
      connection: pc.connectionState,
      ice: pc.iceConnectionState,
      selected: pair ? { local: describe(byId(pair.localCandidateId)), remote: describe(byId(pair.remoteCandidateId)), rttMs: pair.currentRoundTripTime * 1000 } : null,
      local: list('local-candidate'),
      remote: list('remote-candidate'),
      pairs: stats.filter((s) => s.type === 'candidate-pair').map((s) => `${describe(byId(s.localCandidateId))?.type}->${describe(byId(s.remoteCandidateId))?.type} ${s.state}${s.nominated ? ' nominated' : ''}`),
    };
  })));
}

/** `local type address:port -> remote …` of each connection with a selected pair, or "none". */
function describePairs(report) {
  const c = (x) => (x ? `${x.type} ${x.address}:${x.port}` : '?');
  const pairs = report.filter((r) => r.selected).map((r) => `${c(r.selected.local)} -> ${c(r.selected.remote)}`);
  return pairs.length ? pairs.join(' / ') : 'none';
}

/**
 * Builds the lab, starts coturn and the server with `serverArgs`, opens person A behind router 1
 * and B behind router 2 in one room, and waits until each sees the other and names the path
 * `expectPath`. Returns what the scenario checks further.
 */
async function meetThroughTheLab(t, { nat, dropUdp = false, serverArgs, expectPath, key = null, beforeJoin }) {
  const lab = createLab({ nat, dropUdp });
  t.after(() => lab.cleanup());
  await lab.startCoturn({ secret: TURN_SECRET });
  await lab.startServer(serverArgs);
  const [browserA, browserB] = await Promise.all([lab.launchBrowser(1), lab.launchBrowser(2)]);
  const room = newRoomName('natlab');
  const url = key ? keyedRoomUrl(SERVER, room, key) : roomUrl(SERVER, room);
  const extra = beforeJoin ? await beforeJoin(lab, room) : null;

  const t0 = Date.now();
  const [a, b] = await Promise.all([
    openUser(browserA, url, { name: 'A', setup: trackPeerConnections }),
    openUser(browserB, url, { name: 'B', setup: trackPeerConnections }),
  ]);
  const diagnose = async () => {
    const [ra, rb] = await Promise.all([a, b].map((p) => iceReport(p).catch((e) => `unreadable: ${firstLine(e)}`)));
    const [sa, sb] = await Promise.all([a, b].map((p) => status(p)));
    return `A status ${JSON.stringify(sa)}\nA ICE ${JSON.stringify(ra, null, 1)}\nB status ${JSON.stringify(sb)}\nB ICE ${JSON.stringify(rb, null, 1)}\n${lab.describeRouters()}`;
  };
  try {
    await Promise.all([a, b].map((p) => waitForPeers(p, 1, { timeout: CONNECT_TIMEOUT_MS })));
  } catch (err) {
    throw new Error(`${err.message}\n${await diagnose()}`);
  }
  const connectedMs = Date.now() - t0;
  const paths = await Promise.all([['A', a], ['B', b]].map(([name, p]) => waitForPath(p, expectPath, { name, timeout: PATH_TIMEOUT_MS })
    .catch(async (err) => { throw new Error(`${err.message}\n${await diagnose()}`); })));
  const pathMs = Date.now() - t0;

  // Co-editing, both ways, over whatever path joined them.
  const fromA = 'Typed behind NAT one. ';
  await typeText(a, fromA);
  await waitForValue(b, fromA, { name: 'B', timeout: CONNECT_TIMEOUT_MS });
  const fromB = 'And an answer from behind NAT two.';
  await typeText(b, fromB, { at: 'end' });
  await waitForValue(a, fromA + fromB, { name: 'A', timeout: CONNECT_TIMEOUT_MS });
  assert.equal(await editorValue(b), fromA + fromB);

  // Still the same path after the edits.
  for (const [name, p] of [['A', a], ['B', b]]) {
    const people = await peoplePaths(p);
    if (people[0]?.path !== expectPath) assert.fail(`[${name}] the path changed after editing: ${JSON.stringify(people)}\n${await diagnose()}`);
  }
  const ice = await Promise.all([a, b].map(iceReport));
  const [statusA, statusB] = await Promise.all([a, b].map(status));
  process.stderr.write(`NAT lab (${nat} NATs${dropUdp ? ', UDP dropped' : ''}): both connected ${connectedMs} ms after opening, `
    + `path "${expectPath}" shown after ${pathMs} ms; A sees ${JSON.stringify(paths[0][0].text)}, B sees ${JSON.stringify(paths[1][0].text)}; `
    + `status A ${JSON.stringify(statusA.text)}, B ${JSON.stringify(statusB.text)}; selected ICE pairs: A ${describePairs(ice[0])}, B ${describePairs(ice[1])}\n`);
  assertNoPageErrors(a, b);
  return { lab, room, a, b, ice, statusA, statusB, extra, diagnose, typed: fromA + fromB };
}

/** The selected ICE pair of the one live connection of a page's report (asserts there is one). */
function selectedPair(report, name) {
  const live = report.filter((r) => r.selected);
  assert.equal(live.length, 1, `[${name}] expected one connection with a selected ICE pair: ${JSON.stringify(report)}`);
  return live[0].selected;
}

test('cone NATs with STUN: a direct path, found with STUN', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (needsLab(t)) return;
  const { ice, statusA } = await meetThroughTheLab(t, { nat: 'cone', serverArgs: ['--stun', STUN_URL], expectPath: 'stun' });
  for (const [name, report, peerRouter] of [['A', ice[0], '198.18.2.2'], ['B', ice[1], '198.18.1.2']]) {
    const pair = selectedPair(report, name);
    const types = [pair.local.type, pair.remote.type];
    assert.ok(!types.includes('relay'), `[${name}] a direct path, not a relayed one: ${JSON.stringify(pair)}`);
    // The other side's address is its router's public one: the path crosses both NATs.
    assert.equal(pair.remote.address, peerRouter, `[${name}] the pair should reach the other router's public address: ${JSON.stringify(pair)}`);
  }
  assert.doesNotMatch(statusA.text, /via/, 'no "via TURN/the server" in the status line for a STUN path');
});

test('symmetric NATs with STUN only: the server relays, and sees only ciphertext in a keyed room', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (needsLab(t)) return;
  const key = newRoomKey();
  const { a, b, ice, statusA, statusB, extra: spy, room, typed } = await meetThroughTheLab(t, {
    nat: 'symmetric',
    serverArgs: ['--stun', STUN_URL],
    expectPath: 'relay',
    key,
    beforeJoin: async (lab, topic) => {
      const spy = await lab.signalingSpy([topic]);
      t.after(() => spy.close());
      return spy;
    },
  });
  for (const [name, s] of [['A', statusA], ['B', statusB]]) assert.match(s.text, /1 via the server/, `[${name}] status line`);
  for (const [name, report] of [['A', ice[0]], ['B', ice[1]]]) {
    assert.ok(report.every((r) => r.connection !== 'connected'), `[${name}] no data channel should have connected: ${JSON.stringify(report)}`);
  }

  // A marker pasted in one edit travels whole in one relayed frame, where the check below can
  // find it after decrypting; typed key by key it would be split over many frames.
  const marker = `relayed-secret-${newRoomKey()}`;
  await a.$eval('#editor', (el, text) => {
    el.focus();
    el.setRangeText(text, el.value.length, el.value.length, 'end');
    el.dispatchEvent(new InputEvent('input', { bubbles: true, inputType: 'insertFromPaste', data: null }));
  }, marker);
  await waitForValue(b, typed + marker, { name: 'B', timeout: CONNECT_TIMEOUT_MS });

  const publishes = spy.frames.filter((f) => f.type === 'publish' && f.topic === room);
  assert.ok(publishes.length > 0, 'the capture at the server saw no publishes');
  const relayed = [];
  for (const [i, frame] of publishes.entries()) {
    assert.equal(typeof frame.data, 'string', `publish ${i} is not encrypted: ${JSON.stringify(frame).slice(0, 300)}`);
    const message = await decryptSignal(frame.data, key, room)
      .catch((err) => assert.fail(`publish ${i} does not decrypt with the room key: ${err.message}`));
    if (message?.type === 'relay') relayed.push(Buffer.from(message.frame, 'base64'));
  }
  assert.ok(relayed.length >= 2, `expected relayed frames among the ${publishes.length} publishes the server carried; found ${relayed.length}`);
  assert.ok(relayed.some((frame) => frame.includes(Buffer.from(marker))),
    'no decrypted relayed frame holds the pasted marker: the check for it in the clear would prove nothing');
  // The marker, and every phrase typed, never in the clear (nor base64 of it, at any offset).
  const secrets = [marker, 'Typed behind NAT one', 'an answer from behind NAT two'];
  const forbidden = secrets.flatMap((s) => [s, ...[0, 1, 2].map((k) => Buffer.from(s.slice(k)).toString('base64').slice(0, 16))]);
  for (const text of spy.raw) {
    for (const f of forbidden) assert.ok(!text.includes(f), `the server saw ${JSON.stringify(f)} in the clear: ${text.slice(0, 300)}`);
  }
  process.stderr.write(`NAT lab (symmetric NATs): the server carried ${publishes.length} publishes, ${relayed.length} of them relayed frames, all ciphertext\n`);
  assertNoPageErrors(a, b);
});

test('symmetric NATs with TURN: a path through coturn', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (needsLab(t)) return;
  const { a, b, ice, statusA, statusB } = await meetThroughTheLab(t, {
    nat: 'symmetric',
    serverArgs: ['--stun', STUN_URL, '--turn', TURN_URL, '--turn-secret', TURN_SECRET],
    expectPath: 'turn',
  });
  // The credentials came written into the page (the server's app_page), not from /config.
  for (const [name, page] of [['A', a], ['B', b]]) {
    const asked = await page.evaluate(() => performance.getEntriesByType('resource')
      .filter((entry) => new URL(entry.name).pathname === '/config').length);
    assert.equal(asked, 0, `[${name}] asked for /config though the page brought the TURN credentials`);
  }
  for (const [name, report] of [['A', ice[0]], ['B', ice[1]]]) {
    const pair = selectedPair(report, name);
    const relay = [pair.local, pair.remote].find((c) => c.type === 'relay');
    assert.ok(relay, `[${name}] the selected pair should use a TURN relay candidate: ${JSON.stringify(pair)}`);
    assert.equal(relay.address, SERVER_IP, `[${name}] the relay candidate should be coturn's: ${JSON.stringify(pair)}`);
  }
  for (const [name, s] of [['A', statusA], ['B', statusB]]) assert.match(s.text, /1 via TURN/, `[${name}] status line`);
});

test('all UDP dropped at the routers, no TURN: the server relays', { timeout: TEST_TIMEOUT_MS }, async (t) => {
  if (needsLab(t)) return;
  const { lab, ice, statusA, statusB } = await meetThroughTheLab(t, {
    nat: 'cone',
    dropUdp: true,
    serverArgs: ['--stun', STUN_URL],
    expectPath: 'relay',
  });
  const dropped = lab.udpDropped();
  assert.ok(dropped.every((n) => n > 0), `both routers should have dropped UDP (STUN, ICE checks): ${dropped}`);
  for (const [name, s] of [['A', statusA], ['B', statusB]]) assert.match(s.text, /1 via the server/, `[${name}] status line`);
  for (const [name, report] of [['A', ice[0]], ['B', ice[1]]]) {
    assert.ok(report.every((r) => r.connection !== 'connected'), `[${name}] no data channel should have connected: ${JSON.stringify(report)}`);
  }
});
