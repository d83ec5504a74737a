// The chat controller: turns server frames and user actions into state changes and view updates.
// It touches no DOM itself (the view is injected), so it runs under Node with a fake view.
import { historyOptions, planCatchup } from "./catchup.js";
import { socketUrl } from "./config.js";
import { realTimers } from "./connection.js";
import { createInbox } from "./inbox.js";
import { Outbox } from "./outbox.js";
import { PendingSends } from "./pending.js";
import { createProtocol, describeError } from "./protocol.js";
import { Rooms } from "./rooms.js";

const TOKEN_HINT = "Not connected (signing in again). ";

export class Chat {
  config = null;
  name = "";
  token = "";
  rooms = new Rooms();
  pending = new PendingSends();
  protocol = createProtocol();
  #inbox = createInbox(this);
  #opened = false; // a socket opened before: the next open is a reconnect
  lastAliveAt = null; // when the connection last worked (open or frame), by this.now()
  onRefused = () => {}; // a $connect that never opened with auth on: the page gets a fresh token

  /** connect(options) builds the Connection (see connection.js) with the handlers given here. */
  constructor({ view, connect, newId, now = Date.now, pageHref, timers = realTimers }) {
    this.view = view;
    this.newId = newId;
    this.now = now;
    this.pageHref = pageHref;
    // One sendMessage in flight per connection: a sender's messages are stored in typed order.
    this.outbox = new Outbox({
      pending: this.pending,
      timers,
      canSend: (room) => this.online && Boolean(this.rooms.get(room)?.joined),
      transmit: (p) => this.sendPending(p),
      onTimeout: () => this.ping(), // no ack: make sure the socket is still alive
    });
    this.conn = connect({
      pingData: () => this.protocol.ping(),
      on: {
        onConnecting: ({ attempt }) => view.status(attempt === 0 ? "connecting" : "reconnecting", "Connecting…"),
        onOpen: () => this.#onOpen(),
        onClose: () => this.#onClose(),
        onRetry: ({ at, refused }) => {
          if (refused && this.config && this.config.auth !== "off") this.onRefused();
          view.countdown(refused && this.config?.auth !== "off" ? TOKEN_HINT : "", at);
        },
        onFrame: (data) => this.#onFrame(data),
      },
    });
  }

  get online() {
    return this.conn.online;
  }

  setConfig(config) {
    this.config = config;
    this.protocol = createProtocol(config.limits);
    this.view.applyLimits(config.limits, this.protocol.isRoom);
  }

  isMine(m) {
    return this.pending.isMine(m.messageId) || (this.name !== "" && m.sender === this.name);
  }

  // ---- user actions ------------------------------------------------------------------------

  /** The display name travels in the $connect query string, so a new name means a new socket. */
  setIdentity(name, token) {
    const changed = name !== this.name || token !== this.token;
    this.name = name;
    this.token = token;
    this.composer();
    if (changed || !this.online) this.start();
  }

  start() {
    if (!this.name || !this.config) return;
    if (!this.rooms.active) {
      this.rooms.setActive(this.protocol.limits.defaultRoom);
      this.showActive();
    }
    this.conn.start(() =>
      socketUrl(this.config, this.pageHref(), { name: this.name, room: this.rooms.active, token: this.token }),
    );
  }

  reconnectNow() {
    return this.name !== "" && this.conn.reconnectNow();
  }

  ping() {
    return this.conn.ping();
  }

  switchRoom(name) {
    if (!this.protocol.isRoom(name)) {
      this.view.notice(this.view.roomHint);
      return false;
    }
    const room = this.rooms.setActive(name);
    if (this.online && !room.joined) this.send(this.protocol.joinRoom(name));
    else if (!this.conn.socket) this.reconnectNow();
    this.showActive();
    return true;
  }

  leaveActive() {
    const room = this.rooms.activeRoom();
    if (!room) return;
    if (this.online && room.joined) this.send(this.protocol.leaveRoom(room.name));
    else this.forget(room.name); // offline: nothing to tell the server
  }

  requestOlder() {
    const room = this.rooms.activeRoom();
    // One history request per room at a time: replies carry no request id.
    if (!room || !room.next || room.olderInFlight || room.catchup) return;
    room.olderInFlight = this.send(this.protocol.history(room.name, { before: room.next }));
    this.loadOlder();
  }

  /** Returns whether the text was taken (the composer may then be cleared). */
  submit(text) {
    const room = this.rooms.activeRoom();
    if (!room || !this.name || text.trim() === "") return false;
    const clientMessageId = this.newId();
    try {
      this.protocol.sendMessage(room.name, text, clientMessageId);
    } catch (err) {
      this.view.notice(describeError(err.code));
      return false;
    }
    const p = this.pending.add({ clientMessageId, room: room.name, text, ts: this.now() });
    this.view.messages.addPending(p, this.name);
    this.view.messages.toBottom();
    // Queued behind the one in flight; offline, it goes out on reconnect.
    this.outbox.pump();
    return true;
  }

  retry(clientMessageId) {
    const p = this.pending.retry(clientMessageId);
    if (!p) return;
    const room = this.rooms.get(p.room);
    // not_in_room: join again; the "joined" frame then pumps the queue.
    if (room && !room.joined && this.online) this.send(this.protocol.joinRoom(p.room));
    this.view.messages.pendingSending(p);
    this.outbox.pump();
  }

  discard(clientMessageId) {
    const p = this.pending.discard(clientMessageId);
    if (!p) return;
    this.view.messages.removePending(p);
    this.outbox.settled(p);
  }

  // ---- connection events -------------------------------------------------------------------

  #onOpen() {
    this.view.status("online", `Online as ${this.name}`);
    // Only the $connect room is joined on a new socket: memberships died with the old connection id.
    this.rooms.connected();
    // Fill the gap: every room catches up from what it saw (the rest on "joined", see inbox.js).
    if (this.#opened) planCatchup(this.rooms.list(), this.lastAliveAt, this.config.catchUpMarginMs);
    this.#opened = true;
    this.lastAliveAt = this.now();
    for (const room of this.rooms.list()) {
      this.send(room.joined ? this.historyRequest(room) : this.protocol.joinRoom(room.name));
    }
    // The message whose answer was lost with the old socket (closed, or replaced by start())
    // goes out first, then the queue; messages of rooms still to join wait for "joined".
    this.outbox.lost();
    this.outbox.pump();
    this.renderRooms();
    this.loadOlder();
    this.composer();
  }

  #onClose() {
    this.outbox.lost();
    this.rooms.disconnected();
    this.rooms.cancelOlder(); // their replies died with the socket
    this.renderRooms();
    this.loadOlder();
  }

  #onFrame(data) {
    this.lastAliveAt = this.now();
    const f = this.protocol.decode(data);
    if (f) this.#inbox[f.type](f);
  }

  // ---- shared with the inbox (server frames) -----------------------------------------------

  send(data) {
    return this.conn.send(data);
  }

  /** The room's catch-up page when one is due, else the newest page (the initial load). */
  historyRequest(room) {
    return this.protocol.history(room.name, historyOptions(room));
  }

  /** Only into a room this socket has joined, or the server answers not_in_room. */
  sendPending(p) {
    const room = this.rooms.get(p.room);
    if (!this.online || !room?.joined) return false;
    let data;
    try {
      data = this.protocol.sendMessage(p.room, p.text, p.clientMessageId);
    } catch (err) {
      // Typed before the server's (stricter) limits arrived: fail it as the server would.
      this.#inbox.error({ code: err.code, message: err.message, clientMessageId: p.clientMessageId });
      return false;
    }
    return this.send(data);
  }

  forget(name) {
    if (!this.rooms.remove(name)) return;
    for (const p of this.pending.dropRoom(name)) this.outbox.settled(p);
    this.showActive();
  }

  showActive() {
    const room = this.rooms.activeRoom();
    if (room) room.unread = 0;
    this.view.showRoom(room, room ? this.pending.inRoom(room.name) : []);
    this.loadOlder();
    this.renderRooms();
    this.composer();
  }

  renderRooms() {
    this.view.rooms(this.rooms.list(), this.rooms.active);
  }

  loadOlder() {
    this.view.loadOlder(this.rooms.activeRoom(), this.online);
  }

  composer() {
    this.view.composer(Boolean(this.name && this.rooms.activeRoom()));
  }
}
