// Messages sent but not yet acknowledged, keyed by clientMessageId, in send-queue order. The id
// stays the same for every resend, so the server stores a message once however often a reconnect
// (or an ack timeout) repeats it. Which one goes out when is outbox.js's business.

export class PendingSends {
  #items = new Map(); // clientMessageId -> entry, in the order they were typed
  #mine = new Set(); // messageIds the server acked to us: our own messages

  /** A new entry in state "sending". */
  add({ clientMessageId, room, text, ts }) {
    const entry = { clientMessageId, room, text, ts, state: "sending", error: null, messageId: null };
    this.#items.set(clientMessageId, entry);
    return entry;
  }

  get(clientMessageId) {
    return this.#items.get(clientMessageId) ?? null;
  }

  get size() {
    return this.#items.size;
  }

  /** Entries of one room, oldest first. */
  inRoom(room) {
    return [...this.#items.values()].filter((p) => p.room === room);
  }

  /**
   * The head of the queue: the oldest entry still to send whose room canSend(room) allows.
   * Failed entries wait for Retry; those of a room not joined (yet) wait for the join.
   */
  next(canSend) {
    for (const p of this.#items.values()) if (p.state === "sending" && canSend(p.room)) return p;
    return null;
  }

  /** Match an ack frame; the entry is settled and removed, its messageId remembered as ours. */
  ack(frame) {
    const entry = this.#items.get(frame.clientMessageId);
    if (!entry) return null;
    this.#items.delete(entry.clientMessageId);
    entry.messageId = frame.messageId;
    entry.state = "sent";
    this.#mine.add(frame.messageId);
    return entry;
  }

  /** Match an error frame by its clientMessageId; the entry stays, marked failed. */
  fail(frame) {
    const entry = frame.clientMessageId ? this.#items.get(frame.clientMessageId) : undefined;
    if (!entry) return null;
    entry.state = "failed";
    entry.error = frame.code;
    return entry;
  }

  /** The user asked to try a failed entry again: it joins the end of the queue. */
  retry(clientMessageId) {
    const entry = this.#items.get(clientMessageId);
    if (!entry) return null;
    entry.state = "sending";
    entry.error = null;
    this.#items.delete(clientMessageId);
    this.#items.set(clientMessageId, entry);
    return entry;
  }

  discard(clientMessageId) {
    const entry = this.#items.get(clientMessageId) ?? null;
    this.#items.delete(clientMessageId);
    return entry;
  }

  /** Leaving a room abandons what was still pending there. */
  dropRoom(room) {
    const dropped = this.inRoom(room);
    for (const p of dropped) this.#items.delete(p.clientMessageId);
    return dropped;
  }

  isMine(messageId) {
    return this.#mine.has(messageId);
  }
}
