import assert from "node:assert/strict";
import { describe, test } from "node:test";

import { Room, Rooms } from "../../dynamowave/static/js/rooms.js";
import { FakeWebSocket, startedChat } from "./fakes.mjs";

const m = (messageId, ts, text = messageId) => ({ messageId, ts, sender: "bob", text });
const order = (room) => room.messages.map((x) => x.messageId);

describe("Room", () => {
  test("messages stay sorted by time, then id, and each messageId is kept once", () => {
    const room = new Room("lobby");
    assert.equal(room.add(m("B", 20)), 0);
    assert.equal(room.add(m("D", 40)), 1);
    assert.equal(room.add(m("A", 10)), 0);
    assert.equal(room.add(m("C2", 30)), 2);
    assert.equal(room.add(m("C1", 30)), 2, "same ts: ordered by messageId");
    assert.equal(room.add(m("B", 20, "again")), -1);
    assert.equal(room.add({ ts: 1, text: "no id" }), -1);
    assert.deepEqual(order(room), ["A", "B", "C1", "C2", "D"]);
    assert.equal(room.get("B").text, "B", "the first copy wins");
  });

  test("history cursor: set by the first page and older pages, kept by a refresh", () => {
    const room = new Room("lobby");
    const added = [];
    const onAdded = (x) => added.push(x.messageId);
    assert.equal(room.receiveHistory({ messages: [m("C", 3), m("D", 4)], next: "cur-C" }, onAdded), false);
    assert.equal(room.next, "cur-C");
    room.olderInFlight = true;
    assert.equal(room.receiveHistory({ messages: [m("A", 1), m("B", 2)], next: "cur-A" }), true);
    assert.equal(room.next, "cur-A");
    assert.equal(room.olderInFlight, false);
    // After a reconnect the newest page comes again (with its own cursor): the deeper one stays.
    room.receiveHistory({ messages: [m("D", 4), m("E", 5)], next: "cur-D" }, onAdded);
    assert.equal(room.next, "cur-A");
    assert.deepEqual(added, ["C", "D", "E"], "only new messages are reported");
    assert.deepEqual(order(room), ["A", "B", "C", "D", "E"]);
  });
});

describe("Rooms", () => {
  test("a new socket is in the active room only; the rest must be joined again", () => {
    const rooms = new Rooms();
    for (const name of ["a", "b", "c"]) rooms.ensure(name).joined = true;
    rooms.setActive("b");
    assert.deepEqual(
      rooms.connected().map((r) => r.name),
      ["a", "c"],
    );
    assert.deepEqual(
      rooms.list().map((r) => r.joined),
      [false, true, false],
    );
    rooms.disconnected();
    assert.ok(rooms.list().every((r) => !r.joined));
  });

  test("leaving the active room shows the first remaining one", () => {
    const rooms = new Rooms();
    rooms.ensure("a");
    rooms.setActive("b");
    assert.equal(rooms.remove("b"), true);
    assert.equal(rooms.active, "a");
    assert.equal(rooms.remove("b"), false);
    rooms.remove("a");
    assert.equal(rooms.active, null);
    assert.equal(rooms.activeRoom(), null);
  });
});

describe("rooms through the chat", () => {
  test("broadcasts to another room count as unread; leaving forgets the room and its pending sends", () => {
    const { chat } = startedChat({ room: "home" });
    const ws = FakeWebSocket.last;
    ws.open();
    assert.equal(chat.switchRoom("side"), true);
    assert.deepEqual(ws.frames("joinRoom"), [{ action: "joinRoom", room: "side" }]);
    ws.receive({ type: "joined", room: "side" });
    ws.receive({ type: "message", room: "home", messageId: "M1", sender: "bob", text: "hi", ts: 1 });
    assert.equal(chat.rooms.get("home").unread, 1);
    assert.equal(chat.rooms.get("side").unread, 0);

    chat.submit("bye");
    chat.leaveActive();
    assert.deepEqual(ws.frames("leaveRoom"), [{ action: "leaveRoom", room: "side" }]);
    ws.receive({ type: "left", room: "side" });
    assert.equal(chat.rooms.has("side"), false);
    assert.equal(chat.rooms.active, "home");
    assert.equal(chat.rooms.get("home").unread, 0, "shown, so read");
    assert.equal(chat.pending.size, 0);
  });

  test("an invalid room name is refused with a notice and no frame", () => {
    const { chat, called } = startedChat();
    FakeWebSocket.last.open();
    assert.equal(chat.switchRoom("no spaces"), false);
    assert.deepEqual(FakeWebSocket.last.frames("joinRoom"), []);
    assert.deepEqual(called("notice").at(-1), ["notice", "room hint"]);
  });
});
