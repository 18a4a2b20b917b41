// The notebook's second copy in this browser (src/journal.rs; the format and every decision are
// crates/core/src/app/journal.rs): a room's two slot files in the origin private file system,
// held through sync access handles, which only a worker may have. Writes go straight to the
// files, in place: after the first open no file is created, renamed or replaced, so the file
// system's directory database (a LevelDB, with the same torn-log flaw as IndexedDB's) is not
// written again. This file carries out what the app says, in the order it says it, and reads
// nothing into it.
//
// Messages in:  { op: 'open', dir, files, afresh }     -> { op: 'opened', slots: [Uint8Array, Uint8Array] }
//                 (afresh: the room was forgotten; what its directory held goes first)
//               { op: 'resume', slot, length }          (cut a torn tail off, go on from there)
//               { op: 'start', slot, bytes }            (replace the slot's content, go on after it)
//               { op: 'append', bytes }
//               { op: 'close' }                         (and the worker ends)
//               { op: 'remove', dir }                   -> { op: 'removed' } (a notebook forgotten)
// A room's journal is one tab's at a time: the tab that has it holds a Web Lock named after the
// room's directory until it closes. Another tab of the room gets { op: 'held' } at once and
// 'opened' when the first lets go (it then takes the files over); a removal waits for it too.
// Anything failing is said once ({ op: 'failed', message }) and the worker writes no more: the
// app goes on with IndexedDB alone.

const ROOT = 'commonplace-journal';

let handles = null;
let inUse = 0;
let end = 0;
let failed = false;
// Lets the room's lock go (set while this worker holds it).
let release = null;
// Waiting for another tab to let the room's journal go: nothing is held, nothing to flush.
let waiting = false;
// One operation at a time, in order: 'open' awaits, and what comes after it waits for it.
let queue = Promise.resolve();

self.onmessage = ({ data }) => {
  if (data.op === 'close' && waiting) {
    self.close(); // the lock request ends with the worker
    return;
  }
  queue = queue.then(() => (failed ? undefined : handle(data))).catch((err) => {
    failed = true;
    close();
    self.postMessage({ op: 'failed', message: `${err?.name ?? 'Error'}: ${err?.message ?? err}` });
  });
};

async function handle(message) {
  switch (message.op) {
    case 'open': {
      if (!(await lock(message.dir, true))) {
        self.postMessage({ op: 'held' });
        waiting = true;
        await lock(message.dir, false);
        waiting = false;
      }
      if (message.afresh) await removeDirectory(message.dir);
      const root = await navigator.storage.getDirectory();
      const journals = await root.getDirectoryHandle(ROOT, { create: true });
      const dir = await journals.getDirectoryHandle(message.dir, { create: true });
      handles = [];
      for (const name of message.files) {
        const file = await dir.getFileHandle(name, { create: true });
        handles.push(await file.createSyncAccessHandle());
      }
      const slots = handles.map((h) => {
        const bytes = new Uint8Array(h.getSize());
        h.read(bytes, { at: 0 });
        return bytes;
      });
      self.postMessage({ op: 'opened', slots }, slots.map((s) => s.buffer));
      return;
    }
    case 'resume':
      inUse = message.slot;
      end = message.length;
      handles[inUse].truncate(end);
      return;
    case 'start': {
      const h = handles[message.slot];
      h.truncate(0);
      write(h, message.bytes, 0);
      inUse = message.slot;
      end = message.bytes.length;
      return;
    }
    case 'append':
      write(handles[inUse], message.bytes, end);
      end += message.bytes.length;
      return;
    case 'close':
      close();
      self.close();
      return;
    case 'remove': {
      await lock(message.dir, false);
      await removeDirectory(message.dir);
      close();
      self.postMessage({ op: 'removed' });
      self.close();
      return;
    }
    default:
      throw new Error(`unknown operation ${message.op}`);
  }
}

// Takes the lock of the room whose journals are in `dir`: true once held, false if another tab
// holds it and `ifAvailable`. Held until close(). Without Web Locks the sync access handles'
// own exclusivity is all there is (a second tab's open fails).
function lock(dir, ifAvailable) {
  if (!navigator.locks) return Promise.resolve(true);
  return new Promise((acquired, refused) => {
    navigator.locks
      .request(`${ROOT}/${dir}`, { ifAvailable }, (granted) => {
        acquired(granted !== null);
        if (granted === null) return undefined;
        return new Promise((resolve) => (release = resolve));
      })
      .catch(refused);
  });
}

async function removeDirectory(dir) {
  const root = await navigator.storage.getDirectory();
  const journals = await root.getDirectoryHandle(ROOT, { create: true });
  await journals.removeEntry(dir, { recursive: true }).catch((err) => {
    if (err?.name !== 'NotFoundError') throw err;
  });
}

function write(h, bytes, at) {
  const written = h.write(bytes, { at });
  if (written !== bytes.length) throw new Error(`wrote ${written} of ${bytes.length} bytes`);
}

function close() {
  for (const h of handles ?? []) {
    try {
      h.flush();
      h.close();
    } catch {
      // closing anyway
    }
  }
  handles = null;
  release?.();
  release = null;
}
