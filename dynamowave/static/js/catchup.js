// Catch-up after a reconnect: what each joined room got while this client was offline, fetched
// forwards with `history` `since`, then `after` = `next` until `next` is null, and merged without
// duplicates (docs/protocol.md, "Reconnecting"). DOM-free: chat.js and inbox.js send the requests
// and show what was added.

/** Covers cross-region replication lag and clock skew between us and the server. */
export const CATCHUP_MARGIN_MS = 10_000;

/** The newest ts seen in the room (room.messages is sorted by ts), or null. */
export function newestTs(room) {
  const ts = room.messages.at(-1)?.ts;
  return Number.isFinite(ts) ? ts : null;
}

/**
 * Where a room's catch-up starts (epoch ms), or null for the initial load instead.
 *
 * - Messages seen: the newest ts seen there, minus the margin.
 * - History loaded but the room was empty: the time this client last had a working connection
 *   (lastAliveAt, the last frame or open of the old socket), minus the margin. Everything posted
 *   since then comes forwards in full, so the reader sees every missed message straight away;
 *   the newest page alone would show at most one page and leave the rest behind "load older".
 * - History never loaded (or no such time known): null, the initial-load behaviour (newest page,
 *   then "load older"). The room never showed anything, so there is no gap to fill.
 */
export function catchupSince(room, lastAliveAt, margin = CATCHUP_MARGIN_MS) {
  if (!room.historyLoaded) return null;
  const base = newestTs(room) ?? lastAliveAt;
  return Number.isFinite(base) ? Math.max(0, Math.trunc(base - margin)) : null;
}

/** At a reconnect (never the first connect): mark each room for catch-up, or not. */
export function planCatchup(rooms, lastAliveAt, margin = CATCHUP_MARGIN_MS) {
  for (const room of rooms) {
    const since = catchupSince(room, lastAliveAt, margin);
    room.catchup = since === null ? null : { since, after: null };
  }
}

/** Options for the room's next history request: its catch-up page if one is due, else none. */
export function historyOptions(room) {
  if (!room.catchup) return {};
  return room.catchup.after ? { after: room.catchup.after } : { since: room.catchup.since };
}

/**
 * Merge one forwards page into the room; onAdded(message, index) for each message not seen
 * before (duplicates by messageId are dropped). Returns the options of the following request
 * ({after}), or null once caught up. The "load older" cursor (room.next) is left alone.
 */
export function receiveCatchup(room, { messages, next }, onAdded = () => {}) {
  for (const m of messages) {
    const i = room.add(m);
    if (i >= 0) onAdded(room.messages[i], i);
  }
  room.historyLoaded = true;
  if (next && room.catchup) {
    room.catchup.after = next;
    return { after: next };
  }
  room.catchup = null;
  return null;
}
