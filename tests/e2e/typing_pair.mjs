// The scene typing_bench and typing_trace type in: A and B share a room, A's home page holds
// `size` units (B has them all), A's caret sits in the middle with its line in view, and B's
// caret at the start of the line after it, so A draws B's caret and each of A's keys moves it.
import {
  openUser, closeUsers, newRoomName, roomUrl, waitForPeers, waitForReady, fillEditor, setCaret, withTimeout,
} from './harness.mjs';

/** { a, b } in that scene; both are closed again if it cannot be set up. */
export async function openTypingPair(browser, server, size, prefix) {
  const url = roomUrl(server, newRoomName(prefix));
  const a = await openUser(browser, url, { name: 'A' });
  const b = await openUser(browser, url, { name: 'B' });
  try {
    await waitForReady(a, { name: 'A' });
    await waitForReady(b, { name: 'B' });
    await waitForPeers(a, 1);
    await fillEditor(a, size, { name: 'A' });
    await withTimeout(b.waitForFunction((n) => Number(document.querySelector('#editor')?.getAttribute('data-page-length') ?? document.querySelector('#editor')?.value.length) === n, size,
      { timeout: 60_000, polling: 100 }), 65_000, `[B] did not receive the ${size}-character page`);
    const middle = Math.floor(size / 2);
    await setCaret(a, middle);
    // Setting the selection does not scroll a textarea: bring the caret's line to the middle.
    // (A big page's editor holds a window of it, which setCaret has scrolled there already.)
    await a.$eval('#editor', (el, at) => {
      if (el.hasAttribute('data-page-length')) return;
      el.scrollTop = (el.scrollHeight * at) / el.value.length - el.clientHeight / 2;
    }, middle);
    // B's caret at the start of the line after A's (a big page is not wrapped: 100 units
    // further could be off to the right of A's view).
    const below = await a.evaluate((at) => {
      const el = document.querySelector('#editor');
      const text = el.hasAttribute('data-page-length') ? window.commonplacePageText() : el.value;
      const next = text.indexOf('\n', at + 1);
      return next === -1 ? text.length : next + 1;
    }, middle);
    await setCaret(b, Math.min(size, below));
    await withTimeout(a.waitForSelector('.remote-caret', { state: 'attached', timeout: 15_000 }), 16_000,
      '[A] never drew B\'s caret');
    return { a, b };
  } catch (err) {
    await closeUsers(a, b);
    throw err;
  }
}
