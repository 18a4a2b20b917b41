// The notebook's second copy in this browser (src/journal.rs; the format and every decision are
// crates/core/src/app/journal.rs): a room's two slot files in the origin private file system,
// held through sync access handles, which only a worker may have. Writes go straight to the
// files, in place: after the first open no file is created, renamed or replaced, so the file
// system's directory database (a LevelDB, with the same torn-log flaw as IndexedDB's) is not
// written again. This file carries out what the app says, in the order it says it, and reads
// nothing into it.
//
// Messages in:  { op: 'open', dir, files }             -> { op: 'opened', slots: [Uint8Array, Uint8Array] }
//               { op: 'resume', slot, length }          (cut a torn tail off, go on from there)
//               { op: 'start', slot, bytes }            (replace the slot's content, go on after it)
//               { op: 'append', bytes }
//               { op: 'close' }                         (and the worker ends)
//               { op: 'remove', dir }                   -> { op: 'removed' } (a notebook forgotten)
// Anything failing is said once ({ op: 'failed', message }) and the worker writes no more: the
// app goes on with IndexedDB alone. The handles are exclusive: a second tab of the same room
// gets 'failed' (its edits reach the first tab, which writes them).

const ROOT = 'commonplace-journal';

let handles = null;
let inUse = 0;
let end = 0;
let failed = false;
// One operation at a time, in order: 'open' awaits, and what comes after it waits for it.
let queue = Promise.resolve();

self.onmessage = ({ data }) => {
  queue = queue.then(() => (failed ? undefined : handle(data))).catch((err) => {
    failed = true;
    close();
    self.postMessage({ op: 'failed', message: `${err?.name ?? 'Error'}: ${err?.message ?? err}` });
  });
};

async function handle(message) {
  switch (message.op) {
    case 'open': {
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
      const root = await navigator.storage.getDirectory();
      const journals = await root.getDirectoryHandle(ROOT, { create: true });
      await journals.removeEntry(message.dir, { recursive: true }).catch((err) => {
        if (err?.name !== 'NotFoundError') throw err;
      });
      self.postMessage({ op: 'removed' });
      self.close();
      return;
    }
    default:
      throw new Error(`unknown operation ${message.op}`);
  }
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
}
