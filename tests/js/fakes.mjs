// Test doubles for the browser client: a virtual clock with timers, a scripted WebSocket and a
// view that records what it was asked to show. Nothing here waits for real time.
import { Chat } from "../../dynamowave/static/js/chat.js";
import { normalizeConfig } from "../../dynamowave/static/js/config.js";
import { Connection } from "../../dynamowave/static/js/connection.js";

/** setTimeout and friends on a clock that only moves when advance() is called. */
export class FakeTimers {
  now = 1_700_000_000_000;
  #queue = new Map(); // id -> {at, fn, every}
  #nextId = 1;

  setTimeout = (fn, ms) => this.#add(fn, ms, null);
  setInterval = (fn, ms) => this.#add(fn, ms, ms);
  clearTimeout = (id) => this.#queue.delete(id);
  clearInterval = (id) => this.#queue.delete(id);
  clock = () => this.now;

  #add(fn, ms, every) {
    const id = this.#nextId++;
    this.#queue.set(id, { at: this.now + ms, fn, every });
    return id;
  }

  get pending() {
    return this.#queue.size;
  }

  /** Move the clock forward, running every timer that falls due, in order. */
  advance(ms) {
    const end = this.now + ms;
    for (;;) {
      const due = [...this.#queue].filter(([, t]) => t.at <= end).sort((a, b) => a[1].at - b[1].at || a[0] - b[0]);
      if (due.length === 0) break;
      const [id, t] = due[0];
      this.now = t.at;
      if (t.every === null) this.#queue.delete(id);
      else t.at += t.every;
      t.fn();
    }
    this.now = end;
  }
}

/** A WebSocket the test drives: open(), receive(), serverClose(); sent frames are in `sent`. */
export class FakeWebSocket {
  static instances = [];
  readyState = 0;
  sent = [];
  closedByClient = false;
  #listeners = {};

  constructor(url) {
    this.url = url;
    FakeWebSocket.instances.push(this);
  }

  static reset() {
    FakeWebSocket.instances = [];
  }

  static get last() {
    return FakeWebSocket.instances.at(-1);
  }

  addEventListener(type, fn) {
    (this.#listeners[type] ??= []).push(fn);
  }

  #emit(type, ev = {}) {
    for (const fn of this.#listeners[type] ?? []) fn(ev);
  }

  send(data) {
    if (this.readyState !== 1) throw new Error("send on a socket that is not open");
    this.sent.push(data);
  }

  close() {
    this.closedByClient = true;
    this.readyState = 3;
  }

  open() {
    this.readyState = 1;
    this.#emit("open");
  }

  receive(frame) {
    this.#emit("message", { data: typeof frame === "string" ? frame : JSON.stringify(frame) });
  }

  serverClose() {
    this.readyState = 3;
    this.#emit("close", { code: 1006 });
  }

  /** Parsed frames this socket sent, optionally only one action. */
  frames(action) {
    return this.sent.map((s) => JSON.parse(s)).filter((f) => !action || f.action === action);
  }
}

/** A view that accepts every call and records it as [method, ...args]. */
export function fakeView() {
  const calls = [];
  const recorder = (prefix) =>
    new Proxy(
      {},
      {
        get: (_, prop) => (...args) => {
          calls.push([`${prefix}${String(prop)}`, ...args]);
          return prop === "nearBottom" ? true : undefined;
        },
      },
    );
  const messages = recorder("messages.");
  const base = recorder("");
  const view = new Proxy(
    {},
    { get: (_, prop) => (prop === "messages" ? messages : prop === "roomHint" ? "room hint" : base[prop]) },
  );
  return { view, calls, called: (name) => calls.filter((c) => c[0] === name) };
}

/** A Chat on fake timers, socket and view, configured like `dynamowave dev` and started. */
export function startedChat({ name = "alice", room = "lobby", random = () => 0.5 } = {}) {
  FakeWebSocket.reset();
  const timers = new FakeTimers();
  const { view, calls, called } = fakeView();
  let ids = 0;
  const chat = new Chat({
    view,
    connect: (options) => new Connection({ WebSocket: FakeWebSocket, timers, now: timers.clock, random, ...options }),
    newId: () => `cmid-${++ids}`,
    now: timers.clock,
    timers,
    pageHref: () => "http://127.0.0.1:8000/",
  });
  chat.setConfig(normalizeConfig({ websocketUrl: "ws://127.0.0.1:8000/dev", auth: "off" }));
  chat.rooms.setActive(room);
  chat.setIdentity(name, "");
  return { chat, timers, view, calls, called };
}

/** The clientMessageIds of the sendMessage frames a socket sent, in order. */
export const sentIds = (ws) => ws.frames("sendMessage").map((f) => f.clientMessageId);
