// One WebSocket at a time, reopened with backoff until the page closes it on purpose. WebSocket,
// timers, clock and randomness are injected so the schedule can be tested without waiting.

export const RECONNECT = Object.freeze({
  baseMs: 500,
  capMs: 30_000,
  // Never retry sooner than this, so a server restart is not hammered by every tab at once.
  floorMs: 250,
  // Only a connection that lasted this long resets the backoff: a server that accepts and then
  // drops every socket must not be redialled at full speed forever.
  stableAfterMs: 10_000,
  maxAttempt: 16,
});

export const KEEPALIVE = Object.freeze({
  pingEveryMs: 5 * 60 * 1000, // API Gateway drops idle sockets after 10 minutes
  pongTimeoutMs: 20 * 1000, // no pong by then: the socket is half-open (laptop slept, NAT expired)
});

const OPEN = 1;

/** Exponential backoff with full jitter (AWS Architecture Blog) for the given failed attempt. */
export function backoffDelay(attempt, random, opts = RECONNECT) {
  const ceiling = Math.min(opts.capMs, opts.baseMs * 2 ** attempt);
  return Math.max(opts.floorMs, Math.floor(random() * ceiling));
}

export const realTimers = Object.freeze({
  setTimeout: (fn, ms) => globalThis.setTimeout(fn, ms),
  clearTimeout: (id) => globalThis.clearTimeout(id),
  setInterval: (fn, ms) => globalThis.setInterval(fn, ms),
  clearInterval: (id) => globalThis.clearInterval(id),
});

const noop = () => {};

/**
 * Events (all optional): onConnecting({attempt}), onOpen(), onFrame(data), onClose({opened}),
 * onRetry({delay, at, refused}) — refused: the socket closed before it ever opened, which is all a
 * browser learns about a $connect the server rejected.
 */
export class Connection {
  #ws = null;
  #url = null;
  #attempt = 0; // consecutive failed connection attempts, drives the backoff
  #opened = false;
  #timers = { retry: null, ping: null, pong: null, stable: null };

  constructor({ WebSocket, timers = realTimers, now = Date.now, random = Math.random, pingData, on = {} }) {
    this.WebSocket = WebSocket;
    this.timers = timers;
    this.now = now;
    this.random = random;
    this.pingData = pingData;
    this.on = { onConnecting: noop, onOpen: noop, onFrame: noop, onClose: noop, onRetry: noop, ...on };
  }

  get socket() {
    return this.#ws;
  }

  get online() {
    return this.#ws !== null && this.#opened && this.#ws.readyState === OPEN;
  }

  get attempt() {
    return this.#attempt;
  }

  /** (Re)connect now with a fresh backoff; url() is asked again before every attempt. */
  start(url) {
    this.#url = url;
    this.#attempt = 0;
    this.#open();
  }

  /** Network back or tab visible again: do not wait out a long backoff. */
  reconnectNow() {
    if (this.online || !this.#url) return false;
    this.start(this.#url);
    return true;
  }

  /** Close on purpose: no reconnect until start() is called again. */
  close() {
    this.#url = null;
    this.#drop();
    this.#clear("retry");
  }

  send(data) {
    if (!this.online) return false;
    this.#ws.send(data);
    return true;
  }

  ping() {
    if (!this.send(this.pingData())) return false;
    // A pong still awaited keeps its deadline: pings sent more often than the timeout (see the
    // outbox's ack timeout) must not postpone the verdict on a dead socket forever.
    this.#timers.pong ??= this.timers.setTimeout(() => this.#lost(), KEEPALIVE.pongTimeoutMs);
    return true;
  }

  /** The page saw a pong: the socket is alive. */
  pong() {
    this.#clear("pong");
  }

  #open() {
    this.#clear("retry");
    this.#drop();
    if (!this.#url) return;
    this.on.onConnecting({ attempt: this.#attempt });
    let ws;
    try {
      ws = new this.WebSocket(this.#url());
    } catch {
      this.#scheduleRetry(false);
      return;
    }
    this.#ws = ws;
    this.#opened = false;
    // Events of a socket already replaced or dropped are ignored; "error" is always followed by
    // "close", which does the work.
    ws.addEventListener("open", () => this.#ws === ws && this.#onOpen());
    ws.addEventListener("message", (ev) => this.#ws === ws && this.on.onFrame(ev.data));
    ws.addEventListener("close", () => this.#ws === ws && this.#lost());
  }

  #onOpen() {
    this.#opened = true;
    this.#timers.stable = this.timers.setTimeout(() => {
      this.#attempt = 0;
    }, RECONNECT.stableAfterMs);
    this.#timers.ping = this.timers.setInterval(() => this.ping(), KEEPALIVE.pingEveryMs);
    this.on.onOpen();
  }

  #lost() {
    const opened = this.#opened;
    this.#drop();
    this.on.onClose({ opened });
    this.#scheduleRetry(!opened);
  }

  #scheduleRetry(refused) {
    if (!this.#url) return; // the page closed on purpose (or never started)
    this.#clear("retry");
    const delay = backoffDelay(this.#attempt, this.random);
    this.#attempt = Math.min(this.#attempt + 1, RECONNECT.maxAttempt);
    this.#timers.retry = this.timers.setTimeout(() => this.#open(), delay);
    this.on.onRetry({ delay, at: this.now() + delay, refused });
  }

  #drop() {
    const ws = this.#ws;
    this.#ws = null;
    this.#opened = false;
    this.#clear("ping");
    this.#clear("pong");
    this.#clear("stable");
    if (ws && ws.readyState <= OPEN) {
      try {
        ws.close(1000, "client closing");
      } catch {
        // already closing
      }
    }
  }

  #clear(name) {
    const id = this.#timers[name];
    if (id === null) return;
    if (name === "ping") this.timers.clearInterval(id);
    else this.timers.clearTimeout(id);
    this.#timers[name] = null;
  }
}
