// Joined rooms, the active one, and each room's messages: sorted, and de-duplicated by messageId
// because the same message can arrive as an ack, a broadcast and a history page.

/** Server order: by timestamp, then by messageId (a ULID, so ties still sort by creation). */
export function compareMessages(a, b) {
  if (a.ts !== b.ts) return a.ts - b.ts;
  return a.messageId < b.messageId ? -1 : a.messageId > b.messageId ? 1 : 0;
}

export class Room {
  constructor(name) {
    this.name = name;
    this.joined = false; // the server confirmed membership on the current socket
    this.messages = [];
    this.byId = new Map();
    this.next = null; // history cursor for "load older"
    this.historyLoaded = false;
    this.olderInFlight = false;
    this.catchup = null; // {since, after} while a reconnect catch-up is due or under way
    this.unread = 0;
  }

  /** Insert in order; returns the index, or -1 for a message we already have. */
  add({ messageId, sender, text, ts }) {
    if (typeof messageId !== "string" || this.byId.has(messageId)) return -1;
    const m = { messageId, sender: String(sender ?? ""), text: String(text ?? ""), ts: Number(ts) };
    // Most messages arrive in order: search from the end.
    let i = this.messages.length;
    while (i > 0 && compareMessages(this.messages[i - 1], m) > 0) i--;
    this.messages.splice(i, 0, m);
    this.byId.set(messageId, m);
    return i;
  }

  get(messageId) {
    return this.byId.get(messageId) ?? null;
  }

  /**
   * Add a history page; onAdded(message, index) for each new one. Returns whether it was an
   * "older" page (the reader's scroll position must then be kept).
   */
  receiveHistory({ messages, next }, onAdded = () => {}) {
    const older = this.olderInFlight;
    const hadAny = this.messages.length > 0;
    for (const m of messages) {
      const i = this.add(m);
      if (i >= 0) onAdded(this.messages[i], i);
    }
    // A refresh after a reconnect returns the newest page: keep the deeper cursor we had.
    if (older || !this.historyLoaded || !hadAny) this.next = next || null;
    this.olderInFlight = false;
    this.historyLoaded = true;
    return older;
  }
}

export class Rooms {
  #rooms = new Map(); // in join order, which is the sidebar order
  active = null;

  get(name) {
    return this.#rooms.get(name) ?? null;
  }

  has(name) {
    return this.#rooms.has(name);
  }

  get size() {
    return this.#rooms.size;
  }

  list() {
    return [...this.#rooms.values()];
  }

  ensure(name) {
    let room = this.#rooms.get(name);
    if (!room) {
      room = new Room(name);
      this.#rooms.set(name, room);
    }
    return room;
  }

  activeRoom() {
    return this.get(this.active);
  }

  setActive(name) {
    this.active = name;
    return this.ensure(name);
  }

  /** Forget a room; if it was the active one, the first remaining room becomes active. */
  remove(name) {
    if (!this.#rooms.delete(name)) return false;
    if (this.active === name) this.active = this.#rooms.keys().next().value ?? null;
    return true;
  }

  /**
   * A new socket joined only the room in its $connect query (the active one); memberships of the
   * old connection id are gone. Returns the rooms that must be joined again.
   */
  connected() {
    for (const room of this.#rooms.values()) room.joined = room.name === this.active;
    return this.list().filter((r) => !r.joined);
  }

  disconnected() {
    for (const room of this.#rooms.values()) room.joined = false;
  }

  /**
   * A failed request (or a lost socket, whose replies are gone) must not leave a "Loading…"
   * button or a catch-up behind; a reconnect plans its catch-up afresh.
   */
  cancelOlder() {
    for (const room of this.#rooms.values()) {
      room.olderInFlight = false;
      room.catchup = null;
    }
  }
}
