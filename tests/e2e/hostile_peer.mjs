// A hostile peer for tests/e2e/hostile.test.mjs: a stock Yjs + y-webrtc peer (openYjsPeer: it
// meets the room through the server's signaling, encrypted as the room is, and answers
// WebRTC offers) whose page then writes data-channel frames of its own making on every open
// connection, bypassing its Y.Doc: y-protocols sync and awareness frames and Commonplace's chunk
// frames (crates/protocol/src/frame.rs, chunk.rs), byte for byte, with what it likes in them.
// Installed in the page as `window.__hostile`.

import { openYjsPeer } from './harness.mjs';

/** Runs in the hostile page. Everything here is what a room member could send. */
function hostileHelpers() {
  const { Y } = window.YjsWebrtc;
  const MSG_CHUNK = 101;
  const CHUNK = 60 * 1024;
  const HIGH_WATER = 2 << 20;

  const varUint = (out, n) => {
    // lib0 writeVarUint, for numbers past 2^32 too (a 4 GB claim).
    while (n > 0x7f) {
      out.push(0x80 | (n % 128));
      n = Math.floor(n / 128);
    }
    out.push(n);
  };
  const concat = (parts) => {
    const total = parts.reduce((n, p) => n + p.length, 0);
    const out = new Uint8Array(total);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
    return out;
  };
  const head = (...numbers) => {
    const out = [];
    for (const n of numbers) varUint(out, n);
    return Uint8Array.from(out);
  };
  /** varUint(numbers...) then varUint8Array(bytes). */
  const withBytes = (numbers, bytes) => concat([head(...numbers, bytes.length), bytes]);
  const frames = {
    step1: (sv) => withBytes([0, 0], sv),
    step2: (update) => withBytes([0, 1], update),
    update: (update) => withBytes([0, 2], update),
    /** An awareness frame: entries [{ client, clock, json }]. */
    awareness(entries) {
      const enc = new TextEncoder();
      const parts = [head(entries.length)];
      for (const { client, clock, json } of entries) {
        const bytes = enc.encode(json);
        parts.push(head(client, clock, bytes.length), bytes);
      }
      return withBytes([1], concat(parts));
    },
    /** One chunk frame: `total` is a claim, whatever `bytes` holds. */
    chunk: (id, offset, total, bytes) => withBytes([MSG_CHUNK, id, offset, total], bytes),
  };

  const conns = () => [...(window.__yjs.provider.room?.webrtcConns.values() ?? [])].filter((c) => c.connected);
  let nextChunkId = 1;
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
  /** Writes raw bytes on one connection's data channel, waiting while its buffer is full. */
  async function write(conn, bytes) {
    const channel = conn.peer._channel;
    while (channel.readyState === 'open' && channel.bufferedAmount > HIGH_WATER) await sleep(2);
    if (channel.readyState !== 'open') throw new Error(`channel to ${conn.remotePeerId} is ${channel.readyState}`);
    channel.send(bytes);
  }
  /** Sends `frame` to every connected peer, in Commonplace chunks if it is too big for one message. */
  async function send(frame) {
    await Promise.all(conns().map(async (conn) => {
      if (frame.length <= CHUNK) return write(conn, frame);
      const id = nextChunkId++;
      for (let offset = 0; offset < frame.length; offset += CHUNK) {
        await write(conn, frames.chunk(id, offset, frame.length, frame.subarray(offset, offset + CHUNK)));
      }
    }));
  }

  /**
   * An update that claims `client`'s id: `text` inserted at the start of the home page (root
   * text `page`) at clocks from `clock` on, as if `client` had written it.
   */
  function forgedUpdate(client, clock, text) {
    const doc = new Y.Doc();
    doc.clientID = client;
    // Clocks are counted per client: filler in a root nobody reads moves ours to `clock`.
    if (clock > 0) doc.getText('hostile-filler').insert(0, 'f'.repeat(clock));
    const before = Y.encodeStateVector(doc);
    doc.getText('page').insert(0, text);
    return Y.encodeStateAsUpdate(doc, before);
  }

  /** The victims' client ids and their clocks, as the room has shown them to this peer. */
  function victims() {
    const own = window.__yjs.doc.clientID;
    return [...Y.decodeStateVector(Y.encodeStateVector(window.__yjs.doc))]
      .filter(([client]) => client !== own).map(([client, clock]) => ({ client, clock }));
  }

  window.__hostile = { Y, frames, send, forgedUpdate, victims, conns, sleep, concat, head };
}

/** A hostile peer in `room`: openYjsPeer's helpers plus `run(fn, arg)`, which calls fn(__hostile, arg) in its page. */
export async function openHostilePeer(browser, server, room, options = {}) {
  const peer = await openYjsPeer(browser, server, room, { name: 'hostile', ...options });
  await peer.page.evaluate(`(${hostileHelpers.toString()})()`);
  peer.run = (fn, arg) => peer.page.evaluate(
    ([src, a]) => (0, eval)(`(${src})`)(window.__hostile, a), [fn.toString(), arg]);
  return peer;
}
