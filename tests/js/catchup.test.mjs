import assert from "node:assert/strict";
import { describe, test } from "node:test";

import {
  CATCHUP_MARGIN_MS,
  catchupSince,
  historyOptions,
  planCatchup,
  receiveCatchup,
} from "../../dynamowave/static/js/catchup.js";
import { RECONNECT } from "../../dynamowave/static/js/connection.js";
import { Room } from "../../dynamowave/static/js/rooms.js";
import { FakeWebSocket, startedChat } from "./fakes.mjs";

const m = (messageId, ts, text = messageId) => ({ messageId, ts, sender: "bob", text });
const ids = (room) => room.messages.map((x) => x.messageId);
const loaded = (name, ...messages) => {
  const room = new Room(name);
  room.receiveHistory({ messages, next: "older-cursor" });
  return room;
};

describe("catch-up planning", () => {
  test("since: newest ts seen minus the margin; empty room: last working time; never loaded: initial load", () => {
    assert.equal(CATCHUP_MARGIN_MS, 10_000);
    assert.equal(catchupSince(loaded("a", m("A", 50_000), m("B", 70_000)), 1_000_000), 60_000);
    assert.equal(catchupSince(loaded("b"), 1_000_000), 990_000);
    assert.equal(catchupSince(loaded("c"), null), null, "no working time known: initial load");
    assert.equal(catchupSince(new Room("d"), 1_000_000), null, "history never loaded");
    assert.equal(catchupSince(loaded("e", m("A", 3_000)), 1_000_000), 0, "never below 0");
  });

  test("planCatchup marks each room; historyOptions gives since, then after", () => {
    const a = loaded("a", m("A", 50_000));
    const fresh = new Room("fresh");
    planCatchup([a, fresh], 90_000);
    assert.deepEqual(historyOptions(a), { since: 40_000 });
    assert.deepEqual(historyOptions(fresh), {}, "the newest page, as on a first load");
    assert.deepEqual(receiveCatchup(a, { messages: [m("A", 50_000), m("B", 60_000)], next: "c1" }), { after: "c1" });
    assert.deepEqual(historyOptions(a), { after: "c1" });
  });

  test("pages merge in order, duplicates dropped, the load-older cursor kept", () => {
    const room = loaded("a", m("A", 10), m("B", 20));
    planCatchup([room], 0);
    const added = [];
    const onAdded = (x, i) => added.push([x.messageId, i]);
    const first = receiveCatchup(room, { messages: [m("B", 20), m("C", 30)], next: "n1" }, onAdded);
    assert.deepEqual(first, { after: "n1" });
    assert.equal(receiveCatchup(room, { messages: [m("C", 30), m("D", 40)], next: null }, onAdded), null);
    assert.deepEqual(added, [["C", 2], ["D", 3]]);
    assert.deepEqual(ids(room), ["A", "B", "C", "D"]);
    assert.equal(room.next, "older-cursor");
    assert.equal(room.catchup, null);
  });
});

/** A history frame as the server sends it (each message names its room). */
const page = (room, messages, next) => ({
  type: "history",
  room,
  messages: messages.map((x) => ({ room, ...x })),
  next,
});

/** Drop the chat's socket and let the backoff open a new one. */
function reconnect(timers) {
  FakeWebSocket.last.serverClose();
  timers.advance(RECONNECT.capMs);
  FakeWebSocket.last.open();
  return FakeWebSocket.last;
}

describe("catch-up through the chat", () => {
  test("first connect loads the newest page; every reconnect asks since, follows next, dedupes", () => {
    const { chat, timers, called } = startedChat({ room: "lobby" });
    const first = FakeWebSocket.last;
    first.open();
    assert.deepEqual(first.frames("history"), [{ action: "history", room: "lobby", limit: 50 }]);
    first.receive(page("lobby", [m("A", 100_000), m("B", 200_000)], null));
    first.receive({ type: "message", room: "lobby", ...m("C", 300_000) });

    const ws = reconnect(timers);
    assert.deepEqual(ws.frames("history"), [{ action: "history", room: "lobby", limit: 50, since: 290_000 }]);
    const inserted = () => called("messages.insert").length;
    const before = inserted();
    ws.receive(page("lobby", [m("C", 300_000), m("D", 301_000)], "p2"));
    assert.deepEqual(ws.frames("history").at(-1), { action: "history", room: "lobby", limit: 50, after: "p2" });
    // A live broadcast during the catch-up, then the same message again in the last page.
    ws.receive({ type: "message", room: "lobby", ...m("E", 302_000) });
    ws.receive(page("lobby", [m("E", 302_000), m("F", 303_000)], null));
    assert.equal(ws.frames("history").length, 2, "next null: no further request");
    assert.deepEqual(ids(chat.rooms.get("lobby")), ["A", "B", "C", "D", "E", "F"]);
    assert.equal(inserted() - before, 3, "D, E and F shown once each");

    // And again on the next reconnect, from the new newest message.
    const again = reconnect(timers);
    assert.deepEqual(again.frames("history"), [{ action: "history", room: "lobby", limit: 50, since: 293_000 }]);
  });

  test("other rooms catch up after joined; an empty room from the last working time", () => {
    const { chat, timers } = startedChat({ room: "lobby" });
    const first = FakeWebSocket.last;
    first.open();
    first.receive(page("lobby", [m("A", 500_000)], null));
    chat.switchRoom("side");
    first.receive({ type: "joined", room: "side" });
    first.receive(page("side", [], null));
    const lastAlive = timers.now;

    const ws = reconnect(timers);
    assert.deepEqual(ws.frames("joinRoom"), [{ action: "joinRoom", room: "lobby" }]);
    assert.deepEqual(ws.frames("history"), [{ action: "history", room: "side", limit: 50, since: lastAlive - 10_000 }]);
    ws.receive({ type: "joined", room: "lobby" });
    assert.deepEqual(ws.frames("history").at(-1), { action: "history", room: "lobby", limit: 50, since: 490_000 });
    ws.receive(page("lobby", [m("A", 500_000), m("B", 510_000)], null));
    assert.equal(chat.rooms.get("lobby").unread, 1, "a missed message in a background room is unread");
  });

  test("no load-older request while a catch-up is under way", () => {
    const { chat, timers } = startedChat({ room: "lobby" });
    FakeWebSocket.last.open();
    FakeWebSocket.last.receive(page("lobby", [m("B", 2_000)], "older"));
    const ws = reconnect(timers);
    chat.requestOlder();
    assert.equal(ws.frames("history").length, 1);
    ws.receive(page("lobby", [], null));
    chat.requestOlder();
    assert.deepEqual(ws.frames("history").at(-1), { action: "history", room: "lobby", limit: 50, before: "older" });
  });
});
