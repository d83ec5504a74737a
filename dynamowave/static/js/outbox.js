// The send queue of a connection: one sendMessage in flight at a time, so a sender's messages are
// stored in the order they were typed. API Gateway runs a connection's frames concurrently; frames
// sent back to back would be stored in any order. The next message goes out only once the one in
// flight is answered: its ack, or an error frame carrying its clientMessageId.
//
// DOM-free, timers injected. The queue itself (order, states) is PendingSends (pending.js).

/** No answer by then: send the same frame again (same clientMessageId, so idempotent). */
export const ACK_TIMEOUT_MS = 15_000;
/** A rate_limited answer's wait is capped (a broken server must not park a message for hours). */
export const MAX_RETRY_AFTER_MS = 60_000;
export const RETRY_MARGIN_MS = 20;

export class Outbox {
  #inflight = null; // the pending entry sent on the current socket and not answered yet
  #timer = null;

  /**
   * pending: the PendingSends queue; canSend(room): the socket is open and the room joined;
   * transmit(entry): encode and send it (false if it could not); onTimeout(entry): after each
   * ack timeout, e.g. to check that the socket is still alive.
   */
  constructor({ pending, timers, canSend, transmit, onTimeout = () => {}, ackTimeoutMs = ACK_TIMEOUT_MS }) {
    this.pending = pending;
    this.timers = timers;
    this.canSend = canSend;
    this.transmit = transmit;
    this.onTimeout = onTimeout;
    this.ackTimeoutMs = ackTimeoutMs;
  }

  get inflight() {
    return this.#inflight;
  }

  /**
   * Send the head of the queue unless a message is already in flight. Called whenever something
   * may have become sendable: a message typed, an answer, a socket opened, a room joined, a Retry.
   */
  pump() {
    if (this.#inflight) return;
    const entry = this.pending.next(this.canSend);
    if (!entry) return;
    this.#inflight = entry;
    this.#arm();
    // A transmit that fails synchronously answers the entry itself (settled()), which moves on.
    this.transmit(entry);
  }

  /** The entry was answered (ack or error) or dropped: if it was the one in flight, send the next. */
  settled(entry) {
    if (!entry || entry !== this.#inflight) return;
    this.#disarm();
    this.#inflight = null;
    this.pump();
  }

  /**
   * The server refused the entry in flight for the send rate (`rate_limited`): it stays in flight,
   * at the head of the queue, and the same frame (same clientMessageId) goes again after
   * retryAfterMs instead of the ack timeout. Nothing else is sent meanwhile: the next message would
   * only be refused too, and would overtake this one. Returns whether the entry was in flight.
   */
  retryAfter(entry, retryAfterMs) {
    if (!entry || entry !== this.#inflight) return false;
    const wait = Number.isFinite(retryAfterMs) ? Math.min(Math.max(retryAfterMs, 0), MAX_RETRY_AFTER_MS) : 0;
    // A small extra margin: clocks and the server's rounding must not make the resend early.
    this.#arm(Math.ceil(wait) + RETRY_MARGIN_MS, () => this.#resend());
    return true;
  }

  /**
   * The socket is gone, and the answer with it. The entry stays at the head of the queue (still
   * "sending"), so the next socket resends it first, with its clientMessageId, then the rest.
   */
  lost() {
    this.#disarm();
    this.#inflight = null;
  }

  #arm(delayMs = this.ackTimeoutMs, fire = () => this.#timedOut()) {
    this.#disarm();
    this.#timer = this.timers.setTimeout(() => {
      this.#timer = null;
      fire();
    }, delayMs);
  }

  #disarm() {
    if (this.#timer === null) return;
    this.timers.clearTimeout(this.#timer);
    this.#timer = null;
  }

  #timedOut() {
    if (this.#resend()) this.onTimeout(this.#inflight);
  }

  /** The entry in flight once more, with a new ack timeout; false if it cannot go on this socket. */
  #resend() {
    const entry = this.#inflight;
    if (!entry) return false;
    if (!this.canSend(entry.room)) {
      // Its room is no longer joined on this socket: the answer will never come. Re-queue it;
      // "joined" (or a reconnect) pumps it again.
      this.#inflight = null;
      this.pump();
      return false;
    }
    this.#arm();
    this.transmit(entry);
    return true;
  }
}
